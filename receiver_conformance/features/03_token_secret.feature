@core
Feature: The token Secret
  The receiver trusts a webhook only if it proves knowledge of a token. The guide makes
  the token from 12 random bytes, hashed with SHA-1, and keeps it under the key "token"
  of the Secret "webhook-token", which the Receiver names in spec.secretRef.
  Flux reconciles a Receiver at once when its Secret changes only if the Secret carries
  the label reconcile.fluxcd.io/watch: Enabled, so label the Secret before you rotate its
  token; a change to an unlabelled Secret is seen at the Receiver's next reconcile, every
  spec.interval.

  Background:
    Given the guide's GitRepository "webapp"

  @id:token-guide-secret-ready
  Scenario: The guide's token makes the Receiver Ready
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" becomes Ready
    And its webhook path is derived from the token, the name and the namespace

  @cap-kubectl @id:token-guide-kubectl-secret
  Scenario: The Secret is created with the guide's kubectl command
    Given a token generated as the guide does
    When the Secret "webhook-token" is created with the guide's kubectl command
    And the guide's Receiver "webapp" is created
    Then the Receiver "webapp" becomes Ready
    And its webhook path is derived from the token, the name and the namespace

  @id:token-secret-missing
  Scenario: A Receiver whose Secret is missing is not Ready and serves nothing
    Given a token generated as the guide does
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" is not Ready, with reason "TokenNotFound"
    And the Receiver "webapp" has no webhook path
    When GitHub sends a signed "push" event to the path the token would give
    Then the receiver answers 404
    And nothing was annotated

  @id:token-secret-without-token-key
  Scenario: A Secret without the "token" key is not enough
    Given the Secret "webhook-token" holding only a "password" key
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" is not Ready, with reason "TokenNotFound"
    And the Receiver "webapp" has no webhook path

  @id:token-empty-still-checked
  Scenario: An empty token is still the token: an unsigned push is refused
    An empty "token" value makes the Receiver Ready (its path is derived from the empty
    string), but it does not switch the signature check off: a push must still carry a
    signature, here an HMAC keyed with the empty string.
    Given the Secret "webhook-token" holding an empty token
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a "push" event without a signature
    Then the receiver answers 400
    And nothing was annotated
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @id:token-secret-after-receiver
  Scenario: A Secret created after its Receiver makes it Ready
    Given the guide's Receiver "webapp"
    And the Receiver "webapp" is not Ready, with reason "TokenNotFound"
    When a token generated as the guide does is stored in the Secret "webhook-token" labelled "reconcile.fluxcd.io/watch=Enabled"
    Then the Receiver "webapp" becomes Ready
    And its webhook path is derived from the token, the name and the namespace

  @id:token-rotation
  Scenario: Rotating the token moves the URL and retires the old one
    Given a token generated as the guide does, stored in the Secret "webhook-token" labelled "reconcile.fluxcd.io/watch=Enabled"
    And the guide's Receiver "webapp" is Ready
    When the token in the Secret "webhook-token" is replaced by a new one
    Then the webhook path changes to the one derived from the new token
    When GitHub sends a signed "push" event to the old path
    Then the receiver answers 404
    And nothing was annotated
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @id:token-unlabelled-secret-next-reconcile
  Scenario: An unlabelled Secret's new token need not be seen at once, but is by the next reconcile
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" with the interval "5s" is Ready
    When the token in the Secret "webhook-token" is replaced by a new one
    Then by the Receiver's next reconcile the webhook path changes to the one derived from the new token
    When GitHub sends a signed "push" event to the old path
    Then the receiver answers 404
    And nothing was annotated
    When GitHub sends a signed "push" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated
