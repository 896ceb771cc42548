@core
Feature: Limits and unknown paths
  The receiver is exposed on a public address, so it answers only at the paths of Ready
  Receivers and bounds what a client may send: 3 MiB of body and 256 KiB of headers.

  Background:
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And a GitRepository "webapp"
    And a "generic" Receiver "limits" for the GitRepository "webapp"
    And the Receiver "limits" becomes Ready

  @id:limit-unknown-path-404
  Scenario: A path that belongs to no Receiver answers 404
    When the generic sender posts an event to a path no Receiver has
    Then the receiver answers 404
    And nothing was annotated

  @id:limit-body-exactly-3mib
  Scenario: A body of exactly 3 MiB is accepted
    When the generic sender posts a body of 3145728 bytes
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @id:limit-body-over-3mib
  Scenario: A body over 3 MiB answers 413
    When the generic sender posts a body of 3145729 bytes
    Then the receiver answers 413
    And nothing was annotated

  @id:limit-oversized-headers
  Scenario: Oversized headers are refused
    When the generic sender posts an event with 300 KiB of headers
    Then the receiver refuses the request
    And nothing was annotated
