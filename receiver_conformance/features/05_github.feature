@core
Feature: GitHub events
  GitHub signs every delivery with an HMAC of the body keyed by the token, in the header
  X-Hub-Signature-256 (and, for old integrations, X-Hub-Signature with SHA-1). The receiver
  checks the signature and the event type before it asks the source to reconcile; anything
  it refuses is answered 400 and changes nothing.

  Background:
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready

  @id:github-signed-event
  Scenario Outline: A signed "<event>" event is accepted and reconciles the source
    When GitHub sends a signed "<event>" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id   | event |
      | ping | ping  |
      | push | push  |

  @id:github-delivery-accepted
  Scenario Outline: A delivery <variant> is accepted
    When GitHub sends a "push" event <variant>
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id               | variant                       |
      | legacy-sha1-only | signed with legacy SHA-1 only |
      | form-encoded     | sent form-encoded             |
      | charset          | with a charset parameter      |

  @id:github-delivery-refused
  Scenario Outline: A delivery <variant> is refused and changes nothing
    When GitHub sends a "push" event <variant>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id                       | variant                                          |
      | wrong-signature          | with a wrong signature                           |
      | no-signature             | without a signature                              |
      | malformed-signature      | with a malformed signature                       |
      | body-changed             | with its body changed after signing              |
      | wrong-sha256-valid-sha1  | with a wrong SHA-256 but a valid SHA-1 signature |
      | form-signed-over-payload | form-encoded but signed over the payload only    |
      | no-content-type          | without a Content-Type                           |
      | unsupported-content-type | with an unsupported Content-Type                 |

  @id:github-unlisted-event
  Scenario: An event the Receiver does not list is refused
    When GitHub sends a signed "release" event
    Then the receiver answers 400
    And nothing was annotated

  @id:github-event-case
  Scenario Outline: Event names match whatever their case
    When GitHub sends a signed "<event>" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id              | event |
      | upper-case-push | PUSH  |
      | mixed-case-ping | Ping  |

  @id:github-package-event
  Scenario Outline: Package events reach an <kind> receiver
    Given an <kind> "webapp"
    And the guide's image Receiver "webapp-image" pointing at the <kind> "webapp"
    And the Receiver "webapp-image" becomes Ready
    When GitHub sends a signed "package" event to "webapp-image"
    Then the receiver answers 200
    And the <kind> "webapp" was annotated
    When GitHub sends a signed "push" event to "webapp-image"
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id              | kind            |
      | imagerepository | ImageRepository |
      | ocirepository   | OCIRepository   |
