@core @cap-exposure-objects @cap-deployed-receiver
Feature: Flux's network policies and the guide's
  Flux shuts its namespace to other namespaces but for two doors: the receiver's webhook
  port (the "allow-webhooks" policy) and the metrics port. The guide adds a door for
  cert-manager's HTTP-01 solver, open only to cert-manager's namespace. The verdicts are
  static: those of the NetworkPolicy API over the target's receiver pods and the policies
  the API server holds; no connection is made.

  Background:
    Given the receiver's pods and its Service "webhook-receiver", as the target runs them
    And Flux's default network policies in the receiver's namespace

  @id:netpol-webhook-port-open
  Scenario: Any namespace may connect to the receiver's webhook port and nothing else
    Then the policies let a pod in another namespace connect to the receiver pod on port 9292
    And the policies let a pod in another namespace connect to the receiver pod on port 8080
    And the policies keep a pod in another namespace from the receiver pod on port 9440

  @id:netpol-without-allow-webhooks
  Scenario: Without allow-webhooks, other namespaces are shut out
    When the policy "allow-webhooks" is left out
    Then the policies keep a pod in another namespace from the receiver pod on port 9292
    And the policies let a pod in the receiver's namespace connect to the receiver pod on port 9292

  @id:netpol-acme-solver
  Scenario: cert-manager's solver admits only cert-manager's namespace
    Given a cert-manager HTTP-01 solver pod in the receiver's namespace
    When the guide's policy "allow-cert-manager-resolver" is applied
    Then the policies let a pod in a namespace labelled "app.kubernetes.io/instance=cert-manager" connect to the solver pod on port 8089
    And the policies keep a pod in a namespace without that label from the solver pod on port 8089
