@extended
Feature: Events and metrics
  `kubectl describe receiver` and `kubectl events` show what happened to a Receiver: Flux's
  notification-controller records a Kubernetes Event after each reconcile. A Ready Receiver
  gets a Normal Event with the reason "Succeeded" and the time of its next run; a reconcile
  that fails gets a Warning Event with the reason "Failed" and the error, the same text as
  the Ready condition's message; one stalled by its spec, a Warning Event with the Stalled
  reason. The same Event is not written again: a repeat only raises
  its count. The controller's Prometheus endpoint (--metrics-addr) times every reconcile in
  gotk_reconcile_duration_seconds, labelled with the kind, name and namespace of the object,
  which is what Flux's dashboards and alerts read.

  Background:
    Given the guide's GitRepository "webapp"

  @id:event-ready-normal
  Scenario: A Ready Receiver has a Normal event saying when it runs next
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" becomes Ready
    And the Receiver "webapp" has a Normal event "Succeeded": "Reconciliation finished, next run in 10m0s"
    And the event is reported by "notification-controller"

  @id:event-repeated-count
  Scenario: A repeated success raises the count of the same event
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    And the Receiver "webapp" has a Normal event "Succeeded": "Reconciliation finished, next run in 10m0s"
    When a reconcile of the Receiver "webapp" is requested, as "flux reconcile receiver" does
    Then the Receiver "webapp" soon reports that request in lastHandledReconcileAt
    And the event is counted 2 times, with no second Normal event

  @id:event-secret-missing-warning
  Scenario: A Receiver whose Secret is missing has a Warning event naming the Secret
    Given a token generated as the guide does
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" is not Ready, with reason "TokenNotFound"
    And the Receiver "webapp" has a Warning event "Failed" with the Ready condition's message
    And that event names the Secret "webhook-token"
    And it has no Normal event

  @id:event-stalled-warning
  Scenario: A Receiver stalled by an invalid filter has a Warning event with the reason
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When the Receiver "webapp" gets the resource filter "res.metadata.name =="
    Then the Receiver "webapp" is Stalled, with reason "InvalidCELExpression"
    And the Receiver "webapp" has a Warning event "InvalidCELExpression" with the Ready condition's message

  @cap-receiver-metrics @id:metrics-reconcile-duration
  Scenario: The receiver's metrics time the reconciles of each Receiver, as Flux's do
    Given a token generated as the guide does, stored in the Secret "webhook-token"
    When the guide's Receiver "webapp" is created
    Then the Receiver "webapp" becomes Ready
    And the receiver's metrics time the reconciles of the Receiver "webapp" in gotk_reconcile_duration_seconds
    And that histogram has Flux's buckets, 10 from 10 ms to 30 minutes
    When the Receiver "webapp" is deleted
    Then the Receiver "webapp" is soon gone
    And the receiver's metrics soon no longer time the Receiver "webapp"
