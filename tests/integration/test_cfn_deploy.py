"""cfn/deploy.py against moto: change sets are created, described, executed, and skipped when empty."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("troposphere")

from cfn.build import as_dict
from cfn.deploy import Deployer, parameters, stack_name
from cfn.moto_subset import subset
from cfn.network import build as network_template
from cfn.presets import PRESETS


def quiet(_: str) -> None:
    pass


def test_parameters_are_the_stage_preset_restricted_to_what_the_template_declares() -> None:
    body = as_dict(network_template())
    params = {p["ParameterKey"]: p["ParameterValue"] for p in parameters(body, "prod", {"Unknown": "x"})}
    assert params == {"Stage": "prod", "NatGateways": PRESETS["prod"]["NatGateways"]}


def test_a_new_stack_is_created_through_a_change_set(aws: Any) -> None:
    cfn = aws.client("cloudformation")
    body = subset(as_dict(network_template())).template
    result = Deployer(cfn, poll_s=0.01, timeout_s=30, log=quiet).deploy(
        stack_name("dev", "network"), body, parameters(body, "dev")
    )
    assert (result.change_set_type, result.executed, result.status) == ("CREATE", True, "CREATE_COMPLETE")
    assert {c["LogicalResourceId"] for c in result.changes} == set(body["Resources"])
    assert aws.client("ec2").describe_vpcs(Filters=[{"Name": "tag:stage", "Values": ["dev"]}])["Vpcs"]


def test_a_plan_describes_the_update_and_executes_nothing(aws: Any) -> None:
    cfn = aws.client("cloudformation")
    deployer = Deployer(cfn, poll_s=0.01, timeout_s=30, log=quiet)
    body = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "shop-${Stage}-probe"}}}
        },
    }
    deployer.deploy("shop-dev-probe", body, parameters(body, "dev"))
    body["Resources"]["Q"]["Properties"]["VisibilityTimeout"] = 60
    planned = deployer.deploy("shop-dev-probe", body, parameters(body, "dev"), execute=False)
    assert (planned.change_set_type, planned.executed) == ("UPDATE", False)
    url = aws.client("sqs").get_queue_url(QueueName="shop-dev-probe")["QueueUrl"]
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"


def test_an_update_change_set_is_executed(aws: Any) -> None:
    cfn = aws.client("cloudformation")
    deployer = Deployer(cfn, poll_s=0.01, timeout_s=30, log=quiet)
    body = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "shop-${Stage}-probe"}}}
        },
    }
    deployer.deploy("shop-dev-probe", body, parameters(body, "dev"))
    body["Resources"]["Q"]["Properties"]["VisibilityTimeout"] = 60
    updated = deployer.deploy("shop-dev-probe", body, parameters(body, "dev"))
    assert (updated.change_set_type, updated.executed, updated.status) == ("UPDATE", True, "UPDATE_COMPLETE")
    url = aws.client("sqs").get_queue_url(QueueName="shop-dev-probe")["QueueUrl"]
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
