@core @cap-exposure-objects
Feature: Exposing the receiver
  The receiver listens on port 9292 and comes with a Service "webhook-receiver" on port 80.
  The guide exposes it by a LoadBalancer Service, an Ingress or an HTTPRoute; each, applied
  as the guide writes it, must lead a webhook to the receiver pod's port 9292.

  Background:
    Given the receiver's pod and its Service "webhook-receiver" as reference/deploy/ has them

  Scenario: The LoadBalancer Service leads to the receiver's port
    When the guide's LoadBalancer Service "receiver" is applied
    Then a webhook for "webhook-receiver.example.com" through the LoadBalancer Service "receiver" reaches the receiver pod on port 9292

  Scenario: The Ingress leads to the receiver's port, for its host only
    When the guide's Ingress "webhook-receiver" is applied
    Then a webhook for "webhook-receiver.example.com" through the Ingress "webhook-receiver" reaches the receiver pod on port 9292
    And a webhook for "elsewhere.example.com" through the Ingress "webhook-receiver" reaches no pod

  Scenario: The HTTPRoute leads to the receiver's port through the Gateway
    Given the guide's Gateway "internet-gateway" is applied
    When the guide's HTTPRoute "webhook-receiver" is applied
    Then a webhook for "webhook-receiver.example.com" through the HTTPRoute "webhook-receiver" reaches the receiver pod on port 9292
    And a webhook for "elsewhere.example.com" through the HTTPRoute "webhook-receiver" reaches no pod

  Scenario: An HTTPRoute without its Gateway leads nowhere
    When the guide's HTTPRoute "webhook-receiver" is applied
    Then a webhook for "webhook-receiver.example.com" through the HTTPRoute "webhook-receiver" reaches no pod
