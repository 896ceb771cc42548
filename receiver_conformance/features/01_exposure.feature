@core @cap-exposure-objects @cap-deployed-receiver
Feature: Exposing the receiver
  The receiver listens on port 9292 and comes with a Service "webhook-receiver" on port 80.
  The guide exposes it by a LoadBalancer Service, an Ingress or an HTTPRoute; each, applied
  as the guide writes it, must lead a webhook to the receiver pod's port 9292. These are
  static checks over the objects the API server holds, the target's own receiver pods and
  Service among them: the routes are followed object by object, no request is sent.

  Background:
    Given the receiver's pods and its Service "webhook-receiver", as the target runs them

  @id:exposure-loadbalancer
  Scenario: The LoadBalancer Service leads to the receiver's port
    When the guide's LoadBalancer Service "receiver" is applied
    Then the objects route a webhook for "webhook-receiver.example.com" through the LoadBalancer Service "receiver" to the receiver pod on port 9292

  @id:exposure-ingress
  Scenario: The Ingress leads to the receiver's port, for its host only
    When the guide's Ingress "webhook-receiver" is applied
    Then the objects route a webhook for "webhook-receiver.example.com" through the Ingress "webhook-receiver" to the receiver pod on port 9292
    And the objects route a webhook for "elsewhere.example.com" through the Ingress "webhook-receiver" to no pod

  @id:exposure-httproute
  Scenario: The HTTPRoute leads to the receiver's port through the Gateway
    Given the guide's Gateway "internet-gateway" is applied
    When the guide's HTTPRoute "webhook-receiver" is applied
    Then the objects route a webhook for "webhook-receiver.example.com" through the HTTPRoute "webhook-receiver" to the receiver pod on port 9292
    And the objects route a webhook for "elsewhere.example.com" through the HTTPRoute "webhook-receiver" to no pod

  @id:exposure-httproute-without-gateway
  Scenario: An HTTPRoute without its Gateway leads nowhere
    When the guide's HTTPRoute "webhook-receiver" is applied
    Then the objects route a webhook for "webhook-receiver.example.com" through the HTTPRoute "webhook-receiver" to no pod
