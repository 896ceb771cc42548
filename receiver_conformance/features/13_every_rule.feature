Feature: Every rule, down to the near misses
  The guide's happy path is not the whole contract. A Receiver lives on after it first
  became Ready: its spec changes, its Secret is rotated, emptied or deleted, it is asked to
  reconcile, it is deleted. Requests come almost right: a path in the wrong case, a token
  one character off, a signature in another encoding, an event header that says something
  else than the body. Several checks can fail at once, and then the first in Flux's order
  decides the answer. And the resources a Receiver lists are chosen by filters, labels and
  namespaces. A receiver that bends any of these rules is not a drop-in for Flux's.

  Background:
    Given the guide's GitRepository "webapp"

  # -- the Receiver's status, after its first Ready -------------------------------------

  @core @id:rule-ready-finalizer
  Scenario: A Ready Receiver carries Flux's finalizer and is neither Reconciling nor Stalled
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    Then the Receiver "webapp" carries the finalizer "finalizers.fluxcd.io"
    And the Receiver "webapp" has no "Reconciling" condition
    And the Receiver "webapp" has no "Stalled" condition

  @core @id:rule-new-generation
  Scenario: A change to the spec is observed: the Receiver reports its new generation
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" is changed to list only the event "push"
    Then the Receiver "webapp" soon reports the new generation as observed, and is Ready
    And the Receiver "webapp" has no "Reconciling" condition

  @core @id:rule-reconcile-request
  Scenario: A reconcile request is handled at once, and picks up an unlabelled Secret's new token
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When the token in the Secret "webhook-token" is replaced by a new one
    And a reconcile of the Receiver "webapp" is requested, as "flux reconcile receiver" does
    Then the Receiver "webapp" soon reports that request in lastHandledReconcileAt
    And the webhook path changes to the one derived from the new token

  @core @id:rule-deletion
  Scenario: A deleted Receiver lets go of its finalizer, and its path answers 404
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" is deleted
    Then the Receiver "webapp" is soon gone
    When GitHub sends a signed "push" event to the path it had
    Then the receiver answers 404
    And nothing was annotated

  @core @id:rule-secret-loses-token
  Scenario Outline: A Secret that loses its token after Ready: <change>
    Given a token generated as the guide does, stored in the Secret "webhook-token" labelled "reconcile.fluxcd.io/watch=Enabled"
    And the guide's Receiver "webapp" is Ready
    When <change>
    Then the Receiver "webapp" is not Ready, with reason "TokenNotFound"
    And the Receiver "webapp" soon has no webhook path
    When GitHub sends a signed "push" event to the path it had
    Then the receiver answers 404
    And nothing was annotated

    Examples:
      | id                 | change                                                                      |
      | secret-deleted     | the Secret "webhook-token" is deleted                                       |
      | token-key-replaced | the Secret "webhook-token" is replaced by one holding only a "password" key |

  @extended @id:rule-invalid-filter-stalls
  Scenario: An invalid filter on one resource stalls the Receiver
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the first resource of the Receiver "webapp" gets the filter "res.metadata.name =="
    Then the Receiver "webapp" is Stalled, with reason "InvalidCELExpression"
    And the Receiver "webapp" is not Ready, with reason "InvalidCELExpression"
    And the Stalled message of the Receiver "webapp" carries the CEL error "Syntax error"

  @extended @id:rule-corrected-filter-ready
  Scenario: Correcting an invalid filter makes the Receiver Ready again, no longer Stalled
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the Receiver "webapp" gets the resource filter "res.metadata.name =="
    Then the Receiver "webapp" is Stalled, with reason "InvalidCELExpression"
    When the Receiver "webapp" gets the resource filter "res.metadata.name == 'webapp'"
    Then the Receiver "webapp" becomes Ready
    And the Receiver "webapp" has no "Stalled" condition
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  # -- near misses -----------------------------------------------------------------------

  @core @id:rule-hook-path-near-miss
  Scenario Outline: A hook path that is almost right answers 404: <how>
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event to its path <how>
    Then the receiver answers 404
    And nothing was annotated

    Examples:
      | id                     | how                        |
      | upper-case-hex         | in upper-case hex          |
      | trailing-slash         | with a trailing slash      |
      | last-character-missing | without its last character |
      | another-prefix         | under another prefix       |

  @core @id:rule-github-signature-near-miss
  Scenario Outline: A GitHub signature that is almost right is refused: <how>
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub signs a "push" event only in X-Hub-Signature-256, <how>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id                   | how                                                |
      | base64               | in base64                                          |
      | upper-case-algorithm | with an upper-case algorithm name                  |
      | hex-digit-short      | one hex digit short                                |
      | wrong-key            | keyed by the token with its last character changed |

  @core @id:rule-github-signature-upper-hex
  Scenario: A GitHub signature in upper-case hex is accepted, as Go's hex decoder takes either case
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub signs a "push" event only in X-Hub-Signature-256, in upper-case hex
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @core @id:rule-token-near-miss
  Scenario Outline: A token that is almost right is refused: <sender>, <how>
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its request with the token <how>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id                            | sender | type   | how                        |
      | gitlab-last-character-changed | GitLab | gitlab | its last character changed |
      | gitlab-upper-case             | GitLab | gitlab | in upper case              |
      | gitlab-without-last-character | GitLab | gitlab | without its last character |
      | harbor-last-character-changed | Harbor | harbor | its last character changed |
      | harbor-upper-case             | Harbor | harbor | in upper case              |
      | harbor-without-last-character | Harbor | harbor | without its last character |

  @core @id:rule-event-header-decides
  Scenario Outline: The event header decides, and a listed-events Receiver needs one: <case>
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed push body <case>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id                     | case                                  |
      | announced-release      | announced by X-GitHub-Event "release" |
      | no-github-event-header | without an X-GitHub-Event header      |

  @core @id:rule-event-header-required
  Scenario Outline: <sender> without its event header is refused when the Receiver lists events
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "valid" request without the header "<header>"
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id        | sender           | type      | header         |
      | gitlab    | GitLab           | gitlab    | X-Gitlab-Event |
      | bitbucket | Bitbucket Server | bitbucket | X-Event-Key    |

  @core @id:rule-no-events-listed
  Scenario: A Receiver that lists no events accepts every event
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "github" Receiver "webapp" for the GitRepository "webapp"
    When GitHub sends a signed "release" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @extended @id:rule-type-without-events
  Scenario: A type that carries no event ignores the events a Receiver lists
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" listing the event "push", for the GitRepository "webapp"
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  # -- the order of the checks -----------------------------------------------------------

  @core @id:rule-oversize-suspended-413
  Scenario: A body over 3 MiB to a suspended Receiver answers 413
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the Receiver "webapp" is suspended
    Then the generic sender is soon answered 503
    When the generic sender posts a body of 3145729 bytes
    Then the receiver answers 413
    And nothing was annotated

  @extended @id:rule-oversize-not-ready-413
  Scenario: A body over 3 MiB to a Receiver that is not Ready answers 413
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the Receiver "webapp" gets the resource filter "res.metadata.name =="
    Then the Receiver "webapp" is not Ready, with reason "InvalidCELExpression"
    When the generic sender posts a body of 3145729 bytes to the path it had
    Then the receiver answers 413
    And nothing was annotated

  @core @id:rule-suspended-before-signature
  Scenario: A wrongly signed request to a suspended Receiver answers 503
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" is suspended
    Then a signed GitHub "push" is soon answered 503
    When GitHub sends a "push" event with a wrong signature
    Then the receiver answers 503
    And nothing was annotated

  # -- the resources ---------------------------------------------------------------------

  @extended @id:rule-resource-filter-named
  Scenario: A resource filter applies to named resources too
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And these sources:
      | kind          | name  |
      | GitRepository | app-a |
      | GitRepository | app-b |
    And a "generic" Receiver "named" listing every one of them
    And the Receiver "named" has the resource filter 'res.metadata.name == "app-b"'
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "app-b" was annotated
    And the GitRepository "app-a" was not annotated
    And the GitRepository "webapp" was not annotated

  @extended @id:rule-both-filters-hold
  Scenario: A resource's own filter and the resource filter must both hold
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And these sources:
      | kind          | name  |
      | GitRepository | app-a |
      | GitRepository | app-b |
      | GitRepository | app-c |
      | GitRepository | app-d |
    And a "generic" Receiver "filtered" listing, each with its own filter:
      | kind          | name  | filter               |
      | GitRepository | app-a | req.branch == "main" |
      | GitRepository | app-b | req.branch == "dev"  |
      | GitRepository | app-c |                      |
      | GitRepository | app-d | true                 |
    And the Receiver "filtered" has the resource filter 'res.metadata.name in ["app-a", "app-b"]'
    When the generic sender posts the JSON body "{"branch": "main"}"
    Then the receiver answers 200
    And the GitRepository "app-a" was annotated
    And the GitRepository "app-b" was not annotated
    And the GitRepository "app-c" was not annotated
    And the GitRepository "app-d" was not annotated

  @core @cap-fresh-namespaces @id:rule-wildcard-own-namespace
  Scenario: A wildcard reconciles the labelled sources of the Receiver's namespace only
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a GitRepository "app-a" labelled "team=payments"
    And a GitRepository "app-z" labelled "team=payments" in another namespace
    And a "generic" Receiver "payments" for every GitRepository labelled "team=payments"
    When the generic sender posts an event
    Then the receiver answers 200
    And the GitRepository "app-a" was annotated
    And the GitRepository "app-z" in that namespace was not annotated

  @core @id:rule-annotations-kept
  Scenario: A source's own annotations are kept
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the GitRepository "webapp" carries the annotation "example.com/owner=payments"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated
    And the GitRepository "webapp" still carries the annotation "example.com/owner=payments"

  @core @id:rule-chunked-body
  Scenario: A signed push sent in chunks is read whole
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event in chunks of 64 bytes
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @core @id:rule-chunked-oversize-413
  Scenario: A body over 3 MiB sent in chunks answers 413
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the generic sender posts a body of 3145729 bytes in chunks of 65536 bytes
    Then the receiver answers 413
    And nothing was annotated
