@core
Feature: Asking the sources to reconcile
  For every event it accepts, the receiver writes a new timestamp into the annotation
  reconcile.fluxcd.io/requestedAt of each object the Receiver lists, and answers 200 only
  once every one of them was annotated. The source controller reconciles on seeing the
  new value; Kustomizations and HelmReleases then follow the new revision by themselves,
  which is why the guide points receivers at sources.

  Background:
    Given a token generated as the guide does, stored in the Secret "webhook-token"

  @id:annotate-requested-at
  Scenario: Each accepted event sets a new requestedAt and nothing else
    Given the guide's GitRepository "webapp"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated
    And nothing but that annotation changed on the GitRepository "webapp"
    When GitHub sends three signed "push" events within one second
    Then each was answered 200 and set a new requestedAt on the GitRepository "webapp"

  @id:annotate-every-listed-source
  Scenario: A Receiver reconciles every source it lists
    Given these sources:
      | kind              | name      |
      | GitRepository     | webapp    |
      | OCIRepository     | manifests |
      | HelmRepository    | charts    |
      | HelmChart         | webapp    |
      | Bucket            | assets    |
      | ImageRepository   | webapp    |
      | ArtifactGenerator | bundle    |
    And a "generic" Receiver "everything" listing every one of them
    When the generic sender posts an event
    Then the receiver answers 200
    And every source was annotated

  @id:annotate-wildcard-labels
  Scenario: A wildcard name reconciles the sources its labels select
    Given these sources:
      | kind          | name  | labels        |
      | GitRepository | app-a | team=payments |
      | GitRepository | app-b | team=payments |
      | GitRepository | app-c | team=search   |
    And a "generic" Receiver "payments" for every GitRepository labelled "team=payments"
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "app-a" was annotated
    And the GitRepository "app-b" was annotated
    And the GitRepository "app-c" was not annotated

  @id:annotate-wildcard-selects-nothing
  Scenario: A wildcard that selects nothing is not an error
    Given a GitRepository "app-c" labelled "team=search"
    And a "generic" Receiver "payments" for every GitRepository labelled "team=payments"
    When the generic sender posts an event
    Then the receiver answers 200
    And nothing was annotated

  @cap-fresh-namespaces @without-no-cross-namespace-refs @id:annotate-cross-namespace-source
  Scenario: A source in another namespace
    Given a GitRepository "webapp" in another namespace
    And a "generic" Receiver "cross" for the GitRepository "webapp" in that namespace
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "webapp" in that namespace was annotated

  @id:annotate-kustomization-api-version
  Scenario: A Kustomization named with its apiVersion is annotated
    Given a Kustomization "apps"
    And a "generic" Receiver "applier" for the Kustomization "apps" with apiVersion "kustomize.toolkit.fluxcd.io/v1"
    When the generic sender posts an event
    Then the receiver answers 200
    And the Kustomization "apps" was annotated

  @id:annotate-failure-500
  Scenario Outline: A resource the receiver cannot annotate answers 500: <case>
    Given a Kustomization "apps"
    And a GitRepository "webapp"
    And a "generic" Receiver "broken" for <resource>
    When the generic sender posts an event
    Then the receiver answers 500
    And nothing was annotated

    Examples:
      | id                      | case                              | resource                                       |
      | no-default-api-version  | a kind with no default apiVersion | the Kustomization "apps" without an apiVersion |
      | missing-object          | a missing object                  | the GitRepository "does-not-exist"             |
      | wildcard-without-labels | a wildcard without matchLabels    | every GitRepository, with no labels            |

  @id:suspended-503
  Scenario: A suspended Receiver answers 503 and changes nothing
    Given the guide's GitRepository "webapp"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" is suspended
    Then a signed GitHub "push" is soon answered 503
    And nothing was annotated
    When the Receiver "webapp" is resumed
    Then a signed GitHub "push" is soon answered 200
    And the GitRepository "webapp" was annotated

  @extended @id:not-ready-503
  Scenario: A Receiver that is no longer Ready answers 503
    Given the guide's GitRepository "webapp"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" gets the resource filter "res.metadata.name =="
    Then the Receiver "webapp" is not Ready, with reason "InvalidCELExpression"
    And the Receiver "webapp" is Stalled, with reason "InvalidCELExpression"
    When GitHub sends a signed "push" event to the path it had
    Then the receiver answers 503
    And nothing was annotated

  @extended @id:resource-filter-selected
  Scenario: A resource filter chooses among the selected sources
    Given these sources:
      | kind          | name  | labels        |
      | GitRepository | app-a | team=payments |
      | GitRepository | app-b | team=payments |
    And a "generic" Receiver "payments" for every GitRepository labelled "team=payments"
    And the Receiver "payments" has the resource filter 'res.metadata.name == "app-b"'
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "app-b" was annotated
    And the GitRepository "app-a" was not annotated

  @cap-source-controller @id:source-controller-acknowledges
  Scenario: The source controller acknowledges the request
    Given the guide's GitRepository "webapp"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" reports the request as handled
