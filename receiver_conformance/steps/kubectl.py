"""Steps that run the guide's kubectl commands as written."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from receiver_conformance.kubectl import kubectl, table
from receiver_conformance.scenario import Scenario


def run(scenario: Scenario, command: str) -> str:
    assert scenario.target.kubectl, "the target has no kubectl"
    output = kubectl(scenario.target.kubectl, scenario.target.kubeconfig, command,
                     scenario.namespace)
    scenario.evidence(f"$ {command}", output)
    return output


@when(parsers.parse('the Secret "{secret}" is created with the guide\'s kubectl command'))
def create_secret_with_kubectl(scenario: Scenario, secret: str) -> None:
    token = scenario.pending_token
    run(scenario, f"kubectl -n flux-system create secret generic {secret} "
                  f"--from-literal=token={token}")
    scenario.tokens[secret] = token
    scenario.secrets.add(secret)


@when(parsers.parse('I run the guide\'s "{command}"'))
def run_guide_command(scenario: Scenario, command: str) -> None:
    scenario.kubectl_output = run(scenario, command)


@then(parsers.parse("kubectl shows the columns {columns}"))
def shows_columns(scenario: Scenario, columns: str) -> None:
    wanted = [c.strip() for c in columns.replace(" and ", ", ").split(",")]
    header = scenario.kubectl_output.splitlines()[0].split()
    assert header == wanted, f"columns {header}, expected {wanted}"


@then(parsers.parse('kubectl shows READY "{ready}" and a STATUS naming the webhook path'))
def shows_ready_and_path(scenario: Scenario, ready: str) -> None:
    [row] = table(scenario.kubectl_output)
    assert row["READY"] == ready
    assert scenario.webhook_path() in row["STATUS"]
