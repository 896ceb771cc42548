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

  Scenario Outline: A signed "<event>" event is accepted and reconciles the source
    When GitHub sends a signed "<event>" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | event |
      | ping  |
      | push  |

  Scenario Outline: A delivery <variant> is accepted
    When GitHub sends a "push" event <variant>
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | variant                      |
      | signed with legacy SHA-1 only |
      | sent form-encoded             |
      | with a charset parameter      |

  Scenario Outline: A delivery <variant> is refused and changes nothing
    When GitHub sends a "push" event <variant>
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | variant                              |
      | with a wrong signature               |
      | without a signature                  |
      | with a malformed signature           |
      | with its body changed after signing  |
      | with a wrong SHA-256 but a valid SHA-1 signature |
      | form-encoded but signed over the payload only    |
      | without a Content-Type               |
      | with an unsupported Content-Type     |

  Scenario: An event the Receiver does not list is refused
    When GitHub sends a signed "release" event
    Then the receiver answers 400
    And nothing was annotated

  Scenario Outline: Event names match whatever their case
    When GitHub sends a signed "<event>" event
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | event |
      | PUSH  |
      | Ping  |

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
      | kind            |
      | ImageRepository |
      | OCIRepository   |
