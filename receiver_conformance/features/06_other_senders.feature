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

  @core
  Scenario Outline: A sender the guide names makes its request, and the source is reconciled
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples: senders the guide names
      | sender           | type      | variant |
      | GitLab           | gitlab    | valid   |
      | Bitbucket Server | bitbucket | valid   |
      | Harbor           | harbor    | valid   |

  @core
  Scenario Outline: A sender the guide names gets its bad request refused, changing nothing
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples: GitLab puts the token itself in X-Gitlab-Token
      | sender | type   | variant        |
      | GitLab | gitlab | wrong token    |
      | GitLab | gitlab | missing token  |
      | GitLab | gitlab | unlisted event |

    Examples: Bitbucket Server signs the body in X-Hub-Signature, as GitHub does
      | sender           | type      | variant                    |
      | Bitbucket Server | bitbucket | wrong signature            |
      | Bitbucket Server | bitbucket | altered signature          |
      | Bitbucket Server | bitbucket | missing signature          |
      | Bitbucket Server | bitbucket | malformed signature        |
      | Bitbucket Server | bitbucket | body changed after signing |
      | Bitbucket Server | bitbucket | missing content type       |
      | Bitbucket Server | bitbucket | unsupported content type   |
      | Bitbucket Server | bitbucket | unlisted event             |

    Examples: Harbor puts the token itself in Authorization
      | sender | type   | variant       |
      | Harbor | harbor | wrong token   |
      | Harbor | harbor | missing token |
      | Harbor | harbor | bearer token  |

  @extended
  Scenario Outline: Another system makes its request, and the source is reconciled
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples: a generic Receiver checks nothing
      | sender           | type    | variant         |
      | a generic sender | generic | valid           |
      | a generic sender | generic | empty body      |
      | a generic sender | generic | plain text body |

    Examples: generic-hmac accepts three hash functions
      | sender                | type         | variant      |
      | a generic-hmac sender | generic-hmac | valid sha1   |
      | a generic-hmac sender | generic-hmac | valid sha256 |
      | a generic-hmac sender | generic-hmac | valid sha512 |

    Examples: registries and event producers
      | sender              | type      | variant       |
      | Docker Hub          | dockerhub | valid         |
      | Docker Hub          | dockerhub | null body     |
      | Quay                | quay      | valid         |
      | Quay                | quay      | trailing data |
      | ACR                 | acr       | valid         |
      | ACR                 | acr       | null body     |
      | ACR                 | acr       | trailing data |
      | Nexus               | nexus     | valid         |
      | a CDEvents producer | cdevents  | valid         |

  @extended
  Scenario Outline: Another system gets its bad request refused, changing nothing
    Given a "<type>" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When <sender> sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples: generic-hmac signs the body in X-Signature
      | sender                | type         | variant                    |
      | a generic-hmac sender | generic-hmac | wrong signature            |
      | a generic-hmac sender | generic-hmac | missing signature          |
      | a generic-hmac sender | generic-hmac | malformed signature        |
      | a generic-hmac sender | generic-hmac | unknown algorithm          |
      | a generic-hmac sender | generic-hmac | body changed after signing |

    Examples: registries send their own JSON
      | sender     | type      | variant              |
      | Docker Hub | dockerhub | invalid JSON         |
      | Docker Hub | dockerhub | empty body           |
      | Docker Hub | dockerhub | wrong field type     |
      | Quay       | quay      | invalid JSON         |
      | Quay       | quay      | empty body           |
      | Quay       | quay      | wrong field type     |
      | Quay       | quay      | wrong list item type |
      | ACR        | acr       | invalid JSON         |
      | ACR        | acr       | empty body           |
      | ACR        | acr       | wrong field type     |

    Examples: Nexus signs the body with HMAC-SHA1, in bare hex
      | sender | type  | variant                    |
      | Nexus  | nexus | wrong signature            |
      | Nexus  | nexus | missing signature          |
      | Nexus  | nexus | prefixed signature         |
      | Nexus  | nexus | body changed after signing |
      | Nexus  | nexus | invalid JSON               |

    Examples: a CDEvents Receiver wants a valid CDEvent of a listed type
      | sender              | type     | variant            |
      | a CDEvents producer | cdevents | invalid JSON       |
      | a CDEvents producer | cdevents | missing context id |
      | a CDEvents producer | cdevents | unknown event type |
      | a CDEvents producer | cdevents | not a CDEvent      |
      | a CDEvents producer | cdevents | unlisted event     |

  @extended @cap-gcr-test-keys
  Scenario Outline: Google Pub/Sub pushes with a valid ID token, and the source is reconciled
    Given the Secret "webhook-token" also holds the email "flux-push@example-project.iam.gserviceaccount.com" and the audience "https://receiver.example.test"
    And a "gcr" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When Google Pub/Sub sends its "<variant>" request
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | variant |
      | valid   |

  @extended @cap-gcr-test-keys
  Scenario Outline: Google Pub/Sub's "<variant>" request is refused and changes nothing
    Given the Secret "webhook-token" also holds the email "flux-push@example-project.iam.gserviceaccount.com" and the audience "https://receiver.example.test"
    And a "gcr" Receiver "webapp" that lists its sender's events, for the GitRepository "webapp"
    When Google Pub/Sub sends its "<variant>" request
    Then the receiver answers 400
    And nothing was annotated

    Examples:
      | variant              |
      | wrong audience       |
      | wrong email          |
      | unverified email     |
      | expired              |
      | not signed by Google |
      | wrong issuer         |
      | missing token        |
      | undecodable data     |
