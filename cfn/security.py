"""Security layer: KMS keys, the Cognito user pool (COG), Secrets Manager secrets (SECRETS --> KMS).

Fully generated secrets (signing keys) rotate with a small Lambda of ours; the database secret
is created here and rotated by the hosted PostgreSQL rotation in the data layer, next to Aurora.
"""

from __future__ import annotations

import json

from awacs import kms as awacs_kms
from awacs.aws import Allow, ArnLike, BoolIfExists, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import (
    GetAtt,
    Parameter,
    Ref,
    Sub,
    Template,
    cognito,
    kms,
    secretsmanager,
)

from cfn.common import explain, export, logical_id, name, new_template, tags
from cfn.rotation import add_rotator, fully_generated
from reference import RESOURCES
from reference.model import KmsKey, Secret, UserPool

LAYER = "security"
# AWS services that encrypt with the key on the shop's behalf (the rest use it through IAM policies).
KEY_SERVICE_USERS = ("sns.amazonaws.com", "cloudwatch.amazonaws.com", "delivery.logs.amazonaws.com")
DATABASE_SECRET_TEMPLATE = {"username": "shop_admin", "engine": "postgres", "port": 5432, "dbname": "shop"}


def kms_export(alias: str) -> str:
    return f"kms-{alias}-arn"


def secret_export(secret: str) -> str:
    return f"secret-{secret}-arn"


def key_id(alias: str) -> str:
    return logical_id("key", alias)


def add_key(t: Template, key: KmsKey) -> kms.Key:
    """A symmetric key with yearly rotation; the account administers it, a few AWS services may use it."""
    account_root = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))
    use = [
        awacs_kms.Encrypt,
        awacs_kms.Decrypt,
        awacs_kms.GenerateDataKey,
        awacs_kms.Action("ReEncrypt*"),
        awacs_kms.DescribeKey,
    ]
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AccountAdministers",
                Effect=Allow,
                Principal=account_root,
                Action=[awacs_kms.Action("*")],
                Resource=["*"],
            ),
            Statement(
                Sid="ServicesEncrypt",
                Effect=Allow,
                Principal=Principal("Service", list(KEY_SERVICE_USERS)),
                Action=use,
                Resource=["*"],
                Condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))),
            ),
            Statement(
                Sid="LogsEncrypt",
                Effect=Allow,
                Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
                Action=use,
                Resource=["*"],
                Condition=Condition(
                    ArnLike(
                        "kms:EncryptionContext:aws:logs:arn",
                        Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"),
                    )
                ),
            ),
            # Grants let their grantee use the key outside this policy: only AWS services (EKS, RDS, ...)
            # may create them, for the resources they encrypt (Control Tower CT.KMS.PR.3).
            Statement(
                Sid="GrantsOnlyForAwsResources",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[awacs_kms.CreateGrant],
                Resource=["*"],
                Condition=Condition(
                    BoolIfExists({"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"})
                ),
            ),
        ],
    )
    resource = kms.Key(
        key_id(key.alias),
        Description=Sub(f"shop-${{Stage}}-{key.alias}: {key.purpose}"),
        EnableKeyRotation=True,
        KeyPolicy=policy,
        PendingWindowInDays=30,
        Tags=tags(LAYER),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    )
    t.add_resource(explain(resource, "KMS", f"key:{key.alias}"))
    t.add_resource(
        explain(
            kms.Alias(
                logical_id("alias", key.alias),
                AliasName=Sub(f"alias/shop-${{Stage}}-{key.alias}"),
                TargetKeyId=Ref(resource),
            ),
            f"key:{key.alias}",
        )
    )
    export(t, kms_export(key.alias), GetAtt(resource, "Arn"), key.purpose)
    return resource


def add_user_pool(t: Template, pool: UserPool) -> cognito.UserPool:
    """E-mail as username, optional TOTP MFA, threat protection enforced (Plus tier)."""
    resource = cognito.UserPool(
        "UserPool",
        UserPoolName=name(pool.name),
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        MfaConfiguration=pool.mfa,
        EnabledMfas=["SOFTWARE_TOKEN_MFA"],
        Policies=cognito.Policies(
            PasswordPolicy=cognito.PasswordPolicy(
                MinimumLength=pool.password_min_length,
                RequireLowercase=True,
                RequireUppercase=True,
                RequireNumbers=True,
                RequireSymbols=False,
                TemporaryPasswordValidityDays=3,
            )
        ),
        AccountRecoverySetting=cognito.AccountRecoverySetting(
            RecoveryMechanisms=[cognito.RecoveryOption(Name="verified_email", Priority=1)]
        ),
        UserPoolTier="PLUS",
        UserPoolAddOns=cognito.UserPoolAddOns(AdvancedSecurityMode="ENFORCED"),
        DeletionProtection="ACTIVE",
        UserPoolTags={"project": "shop", "layer": LAYER},
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    )
    t.add_resource(explain(resource, "COG", "U --> COG", f"pool:{pool.name}"))
    for group in pool.groups:
        t.add_resource(
            explain(
                cognito.UserPoolGroup(logical_id("group", group), GroupName=group, UserPoolId=Ref(resource)),
                f"pool:{pool.name}",
            )
        )
    t.add_parameter(
        Parameter(
            "CallbackUrl",
            Type="String",
            Default="https://shop.example.com/auth/callback",
            Description="hosted UI redirect",
        )
    )
    for client in pool.clients:
        app = cognito.UserPoolClient(
            logical_id("client", client.name),
            ClientName=name(client.name),
            UserPoolId=Ref(resource),
            GenerateSecret=False,
            ExplicitAuthFlows=list(client.auth_flows),
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
            AccessTokenValidity=client.access_token_minutes,
            IdTokenValidity=client.access_token_minutes,
            RefreshTokenValidity=client.refresh_token_days,
            TokenValidityUnits=cognito.TokenValidityUnits(
                AccessToken="minutes", IdToken="minutes", RefreshToken="days"
            ),
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[Ref("CallbackUrl")],
            SupportedIdentityProviders=["COGNITO"],
        )
        t.add_resource(explain(app, "U --> COG", f"pool:{pool.name}"))
        export(t, f"user-pool-client-{client.name}", Ref(app), f"app client {client.name}")
    domain = cognito.UserPoolDomain(
        "UserPoolDomain", Domain=Sub("shop-${Stage}-${AWS::AccountId}"), UserPoolId=Ref(resource)
    )
    t.add_resource(explain(domain, "U --> COG"))
    export(t, "user-pool-id", Ref(resource), "the user pool")
    export(t, "user-pool-arn", GetAtt(resource, "Arn"), "its ARN")
    return resource


def add_secret(t: Template, secret: Secret, keys: dict[str, kms.Key]) -> secretsmanager.Secret:
    if secret.name == "database":
        generate = secretsmanager.GenerateSecretString(
            SecretStringTemplate=json.dumps(DATABASE_SECRET_TEMPLATE, sort_keys=True),
            GenerateStringKey="password",
            ExcludeCharacters="\"@/\\'",
            PasswordLength=32,
        )
    else:  # the rotator fills the other generated fields at its first (immediate) rotation
        generate = secretsmanager.GenerateSecretString(
            SecretStringTemplate="{}", GenerateStringKey=secret.generated[0], ExcludePunctuation=True, PasswordLength=43
        )
    resource = secretsmanager.Secret(
        logical_id("secret", secret.name),
        Name=name(secret.name, sep="/"),
        Description=secret.purpose,
        KmsKeyId=GetAtt(keys[secret.kms_key], "Arn"),
        GenerateSecretString=generate,
        Tags=tags(LAYER),
    )
    t.add_resource(explain(resource, "SECRETS", "SECRETS --> KMS", f"secret:{secret.name}"))
    export(t, secret_export(secret.name), Ref(resource), secret.purpose)
    return resource


def build() -> Template:
    t = new_template(LAYER, "KMS keys, the Cognito user pool, Secrets Manager secrets and their rotation")
    keys = {k.alias: add_key(t, k) for k in RESOURCES.kms_keys}
    add_user_pool(t, RESOURCES.user_pool)
    secrets = [(s, add_secret(t, s, keys)) for s in RESOURCES.secrets]
    generated = [(s, r) for s, r in secrets if fully_generated(s)]
    add_rotator(t, generated, keys[generated[0][0].kms_key])
    return t
