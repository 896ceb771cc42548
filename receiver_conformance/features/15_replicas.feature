@extended @serial
Feature: Replicas of the receiver
  Flux starts notification-controller's webhook server outside the leader election of its
  controller manager: every replica answers webhooks from its own cache of Receivers, and only
  the replica that holds the Lease "notification-controller-leader-election" in the
  receiver's namespace reconciles Receivers. Flux's own Deployment runs with leader election
  on. When the leader dies, another replica takes the Lease once it has not been renewed for
  its lease duration (35 seconds by default) and reconciles from then on; the webhooks go on
  being answered meanwhile. A client that meets the dead pod tries again, as GitHub redelivers.

  Each scenario scales the receiver's Deployment up and, at its end, back to one replica.

  Background:
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    And the receiver's Deployment runs 2 replicas

  @cap-replicas @id:replicas-every-pod-answers
  Scenario: Every replica answers webhooks, and one of them holds the Lease
    Then the Lease "notification-controller-leader-election" names one of the receiver's pods
    And a signed push sent to each pod's own address is answered 200 and annotates the GitRepository "webapp"

  @cap-replicas @id:replicas-failover
  Scenario: A killed leader is replaced, and no push is lost meanwhile
    When the pod holding the Lease is killed while GitHub sends a signed push every half second
    Then another pod holds the Lease within its lease duration and 15 seconds
    And every push was answered 200, once tried again for at most 15 seconds
    And every push answered 200 annotated the GitRepository "webapp"
    When the guide's Receiver "after-failover" is created
    Then the Receiver "after-failover" becomes Ready
