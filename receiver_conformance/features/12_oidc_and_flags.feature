Feature: Trusting an OIDC issuer, and the flags that narrow what a Receiver may do
  A "generic-oidc" Receiver needs no token Secret: a CI system (GitHub Actions, GitLab CI, any
  OIDC provider) sends `Authorization: Bearer <ID token>`, and the receiver checks the token
  against the provider listed in `spec.oidcProviders` whose `issuerURL` is the token's issuer.
  It discovers the provider's keys (`<issuerURL>/.well-known/openid-configuration`), checks
  the signature, the issuer, the expiry and the audience (`notification-controller` unless
  the provider says otherwise), then every CEL validation over the token's `claims`. Without
  a Secret, its webhook path is derived from its name and namespace alone. Every refused token
  is answered 400 and annotates nothing.

  Here the issuer is one the suite runs on 127.0.0.1, over plain HTTP as Flux allows.

  Background:
    Given the guide's GitRepository "webapp"

  @core @cap-oidc-test-issuer @id:oidc-valid-token
  Scenario: A valid ID token from the trusted issuer reconciles the source
    Given a "generic-oidc" Receiver "ci" trusting the suite's issuer for tokens whose repository is "example-org/webapp", for the GitRepository "webapp"
    Then its webhook path is derived from its name and namespace alone
    When the CI job sends a valid ID token for the repository "example-org/webapp"
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @core @cap-oidc-test-issuer @id:oidc-bad-token
  Scenario Outline: A bad ID token is refused and changes nothing
    Given a "generic-oidc" Receiver "ci" trusting the suite's issuer for tokens whose repository is "example-org/webapp", for the GitRepository "webapp"
    When the CI job sends an ID token <variant>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id               | variant                                      |
      | expired          | that expired a minute ago                    |
      | wrong-audience   | for another audience                         |
      | untrusted-issuer | from an issuer the Receiver does not trust   |
      | unpublished-key  | signed with a key the issuer never published |
      | other-repository | for the repository "example-org/other"       |
      | missing          | missing                                      |

  @extended @cap-oidc-test-issuer @id:oidc-audience-variables-claims
  Scenario: An audience of its own, variables, and filters that read the claims
    Given a "generic-oidc" Receiver "ci" trusting the suite's issuer with the audience "https://flux.example.test", the variable "repo" = 'claims.repository' and the validation 'vars.repo.startsWith("example-org/")', for the GitRepository "webapp"
    And the Receiver "ci" has the resource filter 'claims.ref == "refs/heads/main"'
    When the CI job sends a valid ID token for the audience "https://flux.example.test" and the ref "refs/heads/main"
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated
    When the CI job sends a valid ID token for the audience "https://flux.example.test" and the ref "refs/heads/dev"
    Then the receiver answers 200
    And nothing was annotated
    When the CI job sends a valid ID token for the audience "notification-controller" and the ref "refs/heads/main"
    Then the receiver answers 400
    And nothing was annotated

  @extended @id:concurrent-pushes-one-source
  Scenario: Many pushes at once to one source are each answered once the source is annotated
    A receiver may write one annotation for pushes that arrive while it is writing one, as
    long as none is answered 200 before a write that started after it arrived is persisted.
    Here, the source read right after each answer carries a new requestedAt; where the
    receiver shares this host's clock, the next scenario checks each write's time.
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When 50 generic senders post an event at once
    Then every one of them is answered 200
    And a read of the GitRepository "webapp" right after each answer finds it annotated

  @extended @cap-host-clock @id:concurrent-pushes-written-in-time
  Scenario: Each of many pushes at once is answered after a write that started after it was sent
    requestedAt is the receiver's time when it builds the write. Read on this host's clock,
    every 200 follows a persisted write of the source stamped between the push's sending and
    its answer: a write already under way when the push came does not cover it, and neither
    does one that starts after the answer.
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a "generic" Receiver "webapp" for the GitRepository "webapp"
    When 50 generic senders post an event at once
    Then every one of them is answered 200
    And each was answered after a write of the GitRepository "webapp" stamped between its sending and its answer

  @extended @cap-no-cross-namespace-refs @cap-fresh-namespaces @id:no-cross-namespace-refs
  Scenario: With --no-cross-namespace-refs, a source in another namespace is refused
    Started with `--no-cross-namespace-refs` (multi-tenant clusters), the receiver annotates
    only sources in the Receiver's own namespace: another namespace's is an error (500),
    while the Receiver's other sources are still annotated.
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a GitRepository "webapp" in another namespace
    And a "generic" Receiver "cross" listing the GitRepository "webapp" in that namespace, then the GitRepository "webapp"
    When the generic sender posts an event
    Then the receiver answers 500
    And the GitRepository "webapp" was annotated
    And the GitRepository "webapp" in that namespace stays unannotated
