@core
Feature: The Receiver's URL
  The receiver publishes each Receiver at a URL nobody can guess without the token:
  /hook/ followed by the SHA-256 of the token, the Receiver's name and its namespace.
  The guide reads it from the Receiver with kubectl and gives it to GitHub.

  Background:
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"

  @id:url-published
  Scenario: The Receiver becomes Ready and publishes its URL
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" becomes Ready
    And its webhook path is derived from the token, the name and the namespace
    And its Ready message names the webhook path
    And it reports the generation it observed

  @cap-kubectl @id:url-kubectl-shows-ready
  Scenario: kubectl shows the Receiver Ready with its URL
    Given the guide's Receiver "webapp" is Ready
    When I run the guide's "kubectl get receiver/webapp"
    Then kubectl shows the columns NAME, AGE, READY and STATUS
    And kubectl shows READY "True" and a STATUS naming the webhook path

  @id:url-differs-per-receiver
  Scenario Outline: Another name or namespace gives another URL
    Given the guide's Receiver "webapp" is Ready
    When the same Receiver is also created as "<name>" in <where>
    Then the Receiver "<name>" there becomes Ready
    And its webhook path differs from the one of "webapp"
    And its webhook path is derived from the token, its name and its namespace

    Examples:
      | id             | name       | where              |
      | same-namespace | webapp-two | the same namespace |

    @cap-fresh-namespaces
    Examples:
      | id                | name   | where             |
      | another-namespace | webapp | another namespace |
