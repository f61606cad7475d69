"""Rotation of fully generated secrets (signing keys) by a small Lambda of ours, in the private subnets."""

from __future__ import annotations

from pathlib import Path

from awacs import kms as awacs_kms
from awacs import secretsmanager as awacs_sm
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import GetAtt, Ref, Split, Sub, Template, awslambda, ec2, iam, kms, logs, secretsmanager

from cfn.common import (
    IMPORTED_SUBNETS,
    add_size,
    explain,
    imported,
    logical_id,
    suppress_checkov,
    suppress_guard,
    tags,
    waive_log_group,
)
from cfn.network import EXPORT_VPC, EXPORT_VPC_CIDR, subnet_export
from reference.model import Secret

LAYER = "security"
ROTATOR = "GeneratedSecretRotator"
ROTATION_DAYS = 30


def fully_generated(secret: Secret) -> bool:
    return bool(secret.generated) and set(secret.generated) == set(secret.fields)


def add_rotator(t: Template, secrets: list[tuple[Secret, secretsmanager.Secret]], key: kms.Key) -> None:
    """One Lambda in the private subnets (Secrets Manager through the VPC endpoint) rotating each secret."""
    role = iam.Role(
        f"{ROTATOR}Role",
        AssumeRolePolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(Effect=Allow, Principal=Principal("Service", "lambda.amazonaws.com"), Action=[AssumeRole])
            ],
        ),
        ManagedPolicyArns=[Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")],
        Policies=[
            iam.Policy(
                PolicyName="rotate",
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Effect=Allow,
                            Action=[
                                awacs_sm.DescribeSecret,
                                awacs_sm.GetSecretValue,
                                awacs_sm.PutSecretValue,
                                awacs_sm.UpdateSecretVersionStage,
                            ],
                            Resource=[Ref(r) for _, r in secrets],
                        ),
                        Statement(
                            Effect=Allow,
                            Action=[awacs_kms.Decrypt, awacs_kms.GenerateDataKey],
                            Resource=[GetAtt(key, "Arn")],
                        ),
                    ],
                ),
            )
        ],
    )
    t.add_resource(explain(role, "SECRETS --> KMS"))
    sg = ec2.SecurityGroup(
        f"{ROTATOR}SecurityGroup",
        GroupDescription="rotation Lambda: HTTPS to the VPC endpoints only",
        VpcId=imported(EXPORT_VPC),
        SecurityGroupEgress=[
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=443,
                ToPort=443,
                CidrIp=imported(EXPORT_VPC_CIDR),
                Description="VPC endpoints",
            )
        ],
        Tags=tags(LAYER),
    )
    t.add_resource(explain(sg, "SECRETS"))
    code = (Path(__file__).parent / "lambdas" / "rotate_generated.py").read_text()
    fields = sorted({f for s, _ in secrets for f in s.generated})
    function = awslambda.Function(
        ROTATOR,
        Runtime="python3.12",
        Handler="index.handler",
        Role=GetAtt(role, "Arn"),
        Code=awslambda.Code(ZipFile=code),
        Timeout=30,
        ReservedConcurrentExecutions=1,
        Environment=awslambda.Environment(Variables={"GENERATED_FIELDS": ",".join(fields)}),
        KmsKeyArn=GetAtt(key, "Arn"),
        VpcConfig=awslambda.VPCConfig(
            SubnetIds=Split(",", imported(subnet_export("private"))), SecurityGroupIds=[Ref(sg)]
        ),
        TracingConfig=awslambda.TracingConfig(Mode="Active"),
        Tags=tags(LAYER),
    )
    add_size(t, "LogRetentionDays", number=True)
    log_group = logs.LogGroup(
        f"{ROTATOR}Logs",
        LogGroupName=Sub(f"/aws/lambda/${{{ROTATOR}}}"),
        RetentionInDays=Ref("LogRetentionDays"),
        KmsKeyId=GetAtt(key, "Arn"),
    )
    t.add_resource(explain(waive_log_group(log_group, key_imported=False), "SECRETS"))
    suppress_checkov(
        function,
        "CKV_AWS_116",
        "Secrets Manager invokes rotation synchronously and records a failed rotation itself; "
        "a dead-letter queue only receives failed asynchronous invocations, so it would stay empty",
    )
    suppress_guard(function, "lambda_inside_vpc_check", "VpcConfig is set: " + IMPORTED_SUBNETS)
    t.add_resource(explain(function, "SECRETS"))
    for secret, resource in secrets:
        # One permission per secret: Secrets Manager may invoke the rotator only for the secrets it rotates.
        permission = awslambda.Permission(
            logical_id("rotator", "invoke", secret.name),
            FunctionName=GetAtt(function, "Arn"),
            Action="lambda:InvokeFunction",
            Principal="secretsmanager.amazonaws.com",
            SourceAccount=Ref("AWS::AccountId"),
            SourceArn=Ref(resource),
        )
        t.add_resource(explain(permission, "SECRETS", f"secret:{secret.name}"))
        schedule = secretsmanager.RotationSchedule(
            logical_id("rotation", secret.name),
            DependsOn=[permission.title],
            SecretId=Ref(resource),
            RotationLambdaARN=GetAtt(function, "Arn"),
            RotationRules=secretsmanager.RotationRules(ScheduleExpression=f"rate({ROTATION_DAYS} days)"),
        )
        t.add_resource(explain(schedule, f"secret:{secret.name}"))
