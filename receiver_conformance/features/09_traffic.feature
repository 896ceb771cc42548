@extended @serial
Feature: Real traffic through the guide's exposure and policies
  On a cluster with a data plane, a webhook travels the ways the guide exposes the receiver,
  and NetworkPolicy is enforced on real connections. The receiver runs in flux-system with
  the guide's LoadBalancer Service, Ingress, HTTPRoute and Flux's network policies beside it;
  it serves the Receivers of every namespace (--watch-all-namespaces), so each scenario keeps
  its Secret, Receiver and source in a fresh namespace of its own while the traffic enters
  through flux-system. A connection that must fail is proven by a client that gives up after
  3 seconds, never by waiting.

  What the guide leaves out: Flux's policy allow-webhooks admits port 9292 from pods of any
  namespace (`namespaceSelector: {}`), not from outside the cluster. A push that comes
  through an in-cluster proxy (the Ingress controller, the Gateway) comes from a pod and is
  let in. A push from outside the cluster straight through the LoadBalancer Service reaches
  the receiver pod from an address outside the cluster (the client's, or a node's), which no
  namespace selector matches: it is dropped until a policy admitting outside sources stands
  beside Flux's, as Flux's users found on Cilium (fluxcd/website#359, fluxcd/flux2#1448).

  @cap-traffic @id:traffic-pod-through-entry
  Scenario Outline: A signed push from a pod through the <entry> reaches the receiver
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event from a pod through the <entry>
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id           | entry                                        |
      | loadbalancer | LoadBalancer Service "receiver"              |
      | ingress      | Ingress for "webhook-receiver.example.com"   |
      | httproute    | HTTPRoute for "webhook-receiver.example.com" |

  @cap-traffic @id:traffic-outside-through-proxy
  Scenario Outline: From outside the cluster, the <entry> reaches the receiver through its proxy
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    And Flux's network policies stand in the receiver's namespace
    And no other policy admits traffic to the receiver's pods
    When GitHub sends a signed "push" event from outside the cluster through the <entry>
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

    Examples:
      | id        | entry                                        |
      | ingress   | Ingress for "webhook-receiver.example.com"   |
      | httproute | HTTPRoute for "webhook-receiver.example.com" |

  @cap-traffic @id:traffic-outside-loadbalancer-policy
  Scenario: From outside the cluster, the LoadBalancer needs a policy admitting outside sources
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    And Flux's network policies stand in the receiver's namespace
    And no other policy admits traffic to the receiver's pods
    When GitHub sends a signed "push" event from outside the cluster through the LoadBalancer Service "receiver"
    Then no answer comes within 3 seconds
    And nothing was annotated
    When a policy admitting every source to port 9292 is added to the receiver's namespace
    And GitHub sends a signed "push" event from outside the cluster through the LoadBalancer Service "receiver"
    Then the receiver answers 200
    And the GitRepository "webapp" was annotated

  @cap-traffic @id:traffic-other-host
  Scenario Outline: A push for another host through the <entry> reaches no receiver
    Given the guide's GitRepository "webapp"
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready
    When GitHub sends a signed "push" event from a pod through the <entry>
    Then the request is answered 404 before it reaches the receiver
    And nothing was annotated

    Examples:
      | id        | entry                                 |
      | ingress   | Ingress for "elsewhere.example.com"   |
      | httproute | HTTPRoute for "elsewhere.example.com" |

  @cap-network-policy-enforcement @id:traffic-netpol-enforced
  Scenario: Any namespace reaches the webhook port while allow-webhooks stands, none without it
    Given Flux's network policies stand in the receiver's namespace
    Then a probe in a fresh namespace connects to the receiver pods on port 9292
    When the policy "allow-webhooks" is lifted from the receiver's namespace
    Then a probe in a fresh namespace times out connecting to the receiver pods on port 9292
    And a probe in the receiver's namespace connects to the receiver pods on port 9292
    When the policy "allow-webhooks" is put back
    Then a probe in a fresh namespace connects to the receiver pods on port 9292

  @cap-network-policy-enforcement @id:traffic-acme-solver
  Scenario: cert-manager's solver answers only cert-manager's namespace
    Given the policy "allow-cert-manager-resolver" stands in the receiver's namespace
    And a cert-manager HTTP-01 solver pod listening on port 8089 in the receiver's namespace
    Then a probe in a fresh namespace labelled "app.kubernetes.io/instance=cert-manager" connects to the solver pod on port 8089
    And a probe in a fresh namespace without that label times out connecting to the solver pod on port 8089
