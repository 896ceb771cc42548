@extended @cap-source-controller @cap-kustomize-controller
Feature: A push reaches the cluster without waiting for the interval
  The guide's promise: once GitHub sends the push event to the Receiver, the source
  controller pulls the new commit and updates the GitRepository's revision, and the
  kustomize controller applies that revision, instead of both waiting for the GitRepository's
  next interval (an hour, in the guide). Here the repository lives on a local Git server that
  speaks Git's smart HTTP, Flux's own source and kustomize controllers fetch and apply it, and
  the suite plays GitHub: it commits, then sends the signed push event for that commit. The
  time from the push event to the new revision, and to its application, is in the report.

  Background:
    Given a Git repository "webapp" on the local Git server, whose ConfigMap "webapp-settings" has greeting "hello"
    And the guide's GitRepository "webapp", pointing at that repository
    And a Kustomization "webapp" that applies the path "./" of the GitRepository "webapp"
    And the Kustomization "webapp" has applied the repository's first commit
    And a token generated as the guide does, stored in the Secret "webhook-token"
    And the guide's Receiver "webapp" is Ready

  @id:downstream-push-new-commit
  Scenario: A signed push brings the new commit into the cluster at once
    When a new commit sets greeting "hello again" in the ConfigMap "webapp-settings"
    And GitHub sends the signed "push" event for that commit
    Then the receiver answers 200
    And the GitRepository "webapp" soon serves that commit as its revision
    And the Kustomization "webapp" soon reports that commit as its last applied revision
    And the ConfigMap "webapp-settings" has greeting "hello again"

  @id:downstream-bad-signature-old-commit
  Scenario: A push with a wrong signature leaves the cluster at the old commit
    When a new commit sets greeting "hello again" in the ConfigMap "webapp-settings"
    And GitHub sends the "push" event for that commit with a wrong signature
    Then the receiver answers 400
    And nothing was annotated
    And the GitRepository "webapp" still serves the first commit, its reconcile not requested
    And the ConfigMap "webapp-settings" still has greeting "hello"
    When GitHub sends the signed "push" event for that commit
    Then the GitRepository "webapp" soon serves that commit as its revision
