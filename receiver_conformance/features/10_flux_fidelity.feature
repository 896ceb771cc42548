Feature: Behaving as Flux does on what Flux accepts
  A receiver that replaces Flux's must accept what Flux accepts and refuse what it refuses,
  down to the details a sender or a Receiver's author relies on: the filters the Flux docs
  show, bodies that are JSON `null`, CDEvents without content, many small headers. And, as it
  sits on a public address, it must never write the token or the whole webhook path to its
  log, whatever a client sends.

  Background:
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"

  @core @cap-receiver-log @id:log-no-secrets
  Scenario: Hostile requests leave neither the token nor the webhook path in the log
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    When a hostile client sends malformed requests that carry the token and the webhook path
    Then the receiver still answers the generic sender 200
    And the receiver's log shows neither the token nor the whole webhook path

  @core @cap-receiver-log @id:log-annotation-failure
  Scenario: A resource the receiver cannot annotate is named in its log
    Given a "generic" Receiver "broken" for the GitRepository "does-not-exist"
    When the generic sender posts an event
    Then the receiver answers 500
    And nothing was annotated
    And the receiver's log names the GitRepository "does-not-exist" it could not annotate

  @core @id:headers-many-small-lines
  Scenario: Many small headers are fine: Flux limits header bytes, not lines
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the generic sender posts an event with 200 header lines
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @core @id:headers-over-256kib
  Scenario Outline: Headers over 256 KiB answer 431 whatever their shape
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the generic sender posts an event with 300 KiB of headers in <shape>
    Then the receiver answers 431
    And nothing was annotated

    Examples:
      | id            | shape          |
      | one-line      | one line       |
      | lines-of-1kib | lines of 1 KiB |

  @extended @id:filter-json-null-body
  Scenario: A JSON null body is an empty map for the filters
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    And the Receiver "webapp" has the resource filter 'req.size() == 0'
    When the generic sender posts the JSON body "null"
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  # Flux splits the Content-Type at commas and reads the media types in order: the first
  # application/json makes the body `req`; the first entry that Go's mime.ParseMediaType
  # refuses (`text/`, but not a bare `text`) ends the search, and `req` is then an empty map.
  @extended @id:filter-json-media-type
  Scenario Outline: The filters read the body only for a JSON media type: <media types>
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    And the Receiver "webapp" has the resource filter 'has(req.tag)'
    When the generic sender posts the body "{"tag": "v1"}" with the Content-Type "<media types>"
    Then the receiver answers 200
    And the GitRepository "webapp" <result>

    Examples:
      | id                   | media types                  | result            |
      | json                 | application/json             | was annotated     |
      | text-plain-then-json | text/plain, application/json | was annotated     |
      | text-then-json       | text, application/json       | was annotated     |
      | text-slash-then-json | text/, application/json      | was not annotated |
      | text-plain           | text/plain                   | was not annotated |

  # Go decodes the body into `any`: every JSON number a float64 (a CEL double), true and
  # false booleans.
  @extended @id:filter-json-number-types
  Scenario: The filters see JSON numbers as doubles and true or false as booleans
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    And the Receiver "webapp" has the resource filter 'req.forced == false && type(req.size) == double'
    When the generic sender posts the JSON body "{"forced": false, "size": 3}"
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @extended @id:cdevents-subject-without-content
  Scenario: A CDEvent whose subject has no content is valid
    Given a "cdevents" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When a CDEvents producer sends a valid event whose subject has no content
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @extended @cap-gcr-test-keys @id:gcr-filter-sees-notification
  Scenario: Filters of a gcr Receiver see the registry notification, not the Pub/Sub envelope
    Given the Secret "webhook-token" also holds the email "flux-push@example-project.iam.gserviceaccount.com" and the audience "https://receiver.example.test"
    And a "gcr" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    And the Receiver "webapp" has the resource filter 'req.action == "INSERT" && req.tag.endsWith(":1.4.2")'
    When Google Pub/Sub sends its "valid" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @extended @id:filter-image-tag
  Scenario Outline: The image-tag filter of Flux's docs works: <tag> is <result>
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    And the Receiver "webapp" has the resource filter 'req.tag.split(":").last().value().lowerAscii().startsWith("v")'
    When the generic sender posts the JSON body "{"tag": "ghcr.io/example/webapp:<tag>"}"
    Then the receiver answers 200
    And the GitRepository "webapp" <result>

    Examples:
      | id     | tag    | result            |
      | semver | V1.2.3 | was annotated     |
      | latest | latest | was not annotated |

  @extended @id:filter-not-boolean-stalls
  Scenario: A filter whose output is not a boolean stalls the Receiver
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the Receiver "webapp" gets the resource filter "'test'"
    Then the Receiver "webapp" is Stalled, with reason "InvalidCELExpression"
    And the Receiver "webapp" is not Ready, with reason "InvalidCELExpression"

  @extended @id:limit-body-before-lookup
  Scenario: A body over 3 MiB is refused before its path is looked up
    Given a "generic" Receiver "webapp" for the GitRepository "webapp"
    When the generic sender posts a body of 3145729 bytes to a path no Receiver has
    Then the receiver answers 413
    And nothing was annotated

  @core @id:annotate-partial-failure
  Scenario: One resource that cannot be annotated answers 500, yet the others are annotated
    Given a "generic" Receiver "partial" listing the GitRepository "does-not-exist", then the GitRepository "webapp"
    When the generic sender posts an event
    Then the receiver answers 500
    And the GitRepository "webapp" was annotated
