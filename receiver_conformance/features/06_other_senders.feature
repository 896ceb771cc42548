Feature: Other senders
  Besides GitHub, the guide names GitLab, Bitbucket and Harbor, and "any other system that
  supports webhooks". Each Receiver type checks its own sender's proof: a token in a header
  (GitLab, Harbor), an HMAC of the body (Bitbucket Server, generic-hmac, Nexus), a Google ID
  token (GCR through Pub/Sub), or only the shape of the body (the registries, CDEvents). A
  request that passes asks the source to reconcile; one that fails is answered 400 and
  changes nothing. A Receiver of a type that carries events lists the ones its sender sends.

  Background:
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"

  @core @id:guide-sender-accepted
  Scenario Outline: A sender the guide names makes its request, and the source is reconciled
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples: senders the guide names
      | id              | sender           | type      | variant |
      | gitlab-valid    | GitLab           | gitlab    | valid   |
      | bitbucket-valid | Bitbucket Server | bitbucket | valid   |
      | harbor-valid    | Harbor           | harbor    | valid   |

  @core @id:guide-sender-refused
  Scenario Outline: A sender the guide names gets its bad request refused, changing nothing
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples: GitLab puts the token itself in X-Gitlab-Token
      | id                    | sender | type   | variant        |
      | gitlab-wrong-token    | GitLab | gitlab | wrong token    |
      | gitlab-missing-token  | GitLab | gitlab | missing token  |
      | gitlab-unlisted-event | GitLab | gitlab | unlisted event |

    Examples: Bitbucket Server signs the body in X-Hub-Signature, as GitHub does
      | id                                   | sender           | type      | variant                    |
      | bitbucket-wrong-signature            | Bitbucket Server | bitbucket | wrong signature            |
      | bitbucket-altered-signature          | Bitbucket Server | bitbucket | altered signature          |
      | bitbucket-missing-signature          | Bitbucket Server | bitbucket | missing signature          |
      | bitbucket-malformed-signature        | Bitbucket Server | bitbucket | malformed signature        |
      | bitbucket-body-changed-after-signing | Bitbucket Server | bitbucket | body changed after signing |
      | bitbucket-missing-content-type       | Bitbucket Server | bitbucket | missing content type       |
      | bitbucket-unsupported-content-type   | Bitbucket Server | bitbucket | unsupported content type   |
      | bitbucket-unlisted-event             | Bitbucket Server | bitbucket | unlisted event             |

    Examples: Harbor puts the token itself in Authorization
      | id                   | sender | type   | variant       |
      | harbor-wrong-token   | Harbor | harbor | wrong token   |
      | harbor-missing-token | Harbor | harbor | missing token |
      | harbor-bearer-token  | Harbor | harbor | bearer token  |

  @extended @id:other-sender-accepted
  Scenario Outline: Another system makes its request, and the source is reconciled
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples: a generic Receiver checks nothing
      | id                      | sender           | type    | variant         |
      | generic-valid           | a generic sender | generic | valid           |
      | generic-empty-body      | a generic sender | generic | empty body      |
      | generic-plain-text-body | a generic sender | generic | plain text body |

    Examples: generic-hmac accepts three hash functions
      | id                        | sender                | type         | variant      |
      | generic-hmac-valid-sha1   | a generic-hmac sender | generic-hmac | valid sha1   |
      | generic-hmac-valid-sha256 | a generic-hmac sender | generic-hmac | valid sha256 |
      | generic-hmac-valid-sha512 | a generic-hmac sender | generic-hmac | valid sha512 |

    Examples: registries and event producers
      | id                  | sender              | type      | variant       |
      | dockerhub-valid     | Docker Hub          | dockerhub | valid         |
      | dockerhub-null-body | Docker Hub          | dockerhub | null body     |
      | quay-valid          | Quay                | quay      | valid         |
      | quay-trailing-data  | Quay                | quay      | trailing data |
      | acr-valid           | ACR                 | acr       | valid         |
      | acr-null-body       | ACR                 | acr       | null body     |
      | acr-trailing-data   | ACR                 | acr       | trailing data |
      | nexus-valid         | Nexus               | nexus     | valid         |
      | cdevents-valid      | a CDEvents producer | cdevents  | valid         |

  @extended @id:other-sender-refused
  Scenario Outline: Another system gets its bad request refused, changing nothing
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples: generic-hmac signs the body in X-Signature
      | id                                      | sender                | type         | variant                    |
      | generic-hmac-wrong-signature            | a generic-hmac sender | generic-hmac | wrong signature            |
      | generic-hmac-missing-signature          | a generic-hmac sender | generic-hmac | missing signature          |
      | generic-hmac-malformed-signature        | a generic-hmac sender | generic-hmac | malformed signature        |
      | generic-hmac-unknown-algorithm          | a generic-hmac sender | generic-hmac | unknown algorithm          |
      | generic-hmac-body-changed-after-signing | a generic-hmac sender | generic-hmac | body changed after signing |

    Examples: registries send their own JSON
      | id                         | sender     | type      | variant              |
      | dockerhub-invalid-json     | Docker Hub | dockerhub | invalid JSON         |
      | dockerhub-empty-body       | Docker Hub | dockerhub | empty body           |
      | dockerhub-wrong-field-type | Docker Hub | dockerhub | wrong field type     |
      | quay-invalid-json          | Quay       | quay      | invalid JSON         |
      | quay-empty-body            | Quay       | quay      | empty body           |
      | quay-wrong-field-type      | Quay       | quay      | wrong field type     |
      | quay-wrong-list-item-type  | Quay       | quay      | wrong list item type |
      | acr-invalid-json           | ACR        | acr       | invalid JSON         |
      | acr-empty-body             | ACR        | acr       | empty body           |
      | acr-wrong-field-type       | ACR        | acr       | wrong field type     |

    Examples: Nexus signs the body with HMAC-SHA1, in bare hex
      | id                               | sender | type  | variant                    |
      | nexus-wrong-signature            | Nexus  | nexus | wrong signature            |
      | nexus-missing-signature          | Nexus  | nexus | missing signature          |
      | nexus-prefixed-signature         | Nexus  | nexus | prefixed signature         |
      | nexus-body-changed-after-signing | Nexus  | nexus | body changed after signing |
      | nexus-invalid-json               | Nexus  | nexus | invalid JSON               |

    Examples: a CDEvents Receiver wants a valid CDEvent of a listed type
      | id                          | sender              | type     | variant            |
      | cdevents-invalid-json       | a CDEvents producer | cdevents | invalid JSON       |
      | cdevents-missing-context-id | a CDEvents producer | cdevents | missing context id |
      | cdevents-unknown-event-type | a CDEvents producer | cdevents | unknown event type |
      | cdevents-not-cdevent        | a CDEvents producer | cdevents | not a CDEvent      |
      | cdevents-unlisted-event     | a CDEvents producer | cdevents | unlisted event     |

  @extended @cap-gcr-test-keys @id:gcr-valid-token
  Scenario Outline: Google Pub/Sub pushes with a valid ID token, and the source is reconciled
    Given the Secret "webhook-token" also holds the email "flux-push@example-project.iam.gserviceaccount.com" and the audience "https://receiver.example.test"
    And a "gcr" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When Google Pub/Sub sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id    | variant |
      | valid | valid   |

  @extended @cap-gcr-test-keys @id:gcr-refused
  Scenario Outline: Google Pub/Sub's "<variant>" request is refused and changes nothing
    Given the Secret "webhook-token" also holds the email "flux-push@example-project.iam.gserviceaccount.com" and the audience "https://receiver.example.test"
    And a "gcr" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When Google Pub/Sub sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | id                | variant              |
      | wrong-audience    | wrong audience       |
      | wrong-email       | wrong email          |
      | unverified-email  | unverified email     |
      | expired           | expired              |
      | not-signed-google | not signed by Google |
      | wrong-issuer      | wrong issuer         |
      | missing-token     | missing token        |
      | undecodable-data  | undecodable data     |
