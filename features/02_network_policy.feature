@core @cap-exposure-objects
Feature: Flux's network policies and the guide's
  Flux shuts its namespace to other namespaces but for two doors: the receiver's webhook
  port (the "allow-webhooks" policy) and the metrics port. The guide adds a door for
  cert-manager's HTTP-01 solver, open only to cert-manager's namespace. The verdicts are
  those of the NetworkPolicy API over the policies the API server stored.

  Background:
    Given the receiver's pod and its Service "webhook-receiver" as reference/deploy/ has them
    And Flux's default network policies in the receiver's namespace

  Scenario: Any namespace reaches the receiver's webhook port and nothing else
    Then a pod in another namespace may connect to the receiver pod on port 9292
    And a pod in another namespace may connect to the receiver pod on port 8080
    And a pod in another namespace may not connect to the receiver pod on port 9440

  Scenario: Without allow-webhooks, other namespaces are shut out
    When the policy "allow-webhooks" is deleted
    Then a pod in another namespace may not connect to the receiver pod on port 9292
    And a pod in the receiver's namespace may connect to the receiver pod on port 9292

  Scenario: cert-manager's solver is reachable only from cert-manager's namespace
    Given a cert-manager HTTP-01 solver pod in the receiver's namespace
    When the guide's policy "allow-cert-manager-resolver" is applied
    Then a pod in a namespace labelled "app.kubernetes.io/instance=cert-manager" may connect to the solver pod on port 8089
    And a pod in a namespace without that label may not connect to the solver pod on port 8089
