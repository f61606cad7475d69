"""Analytics layer: KDS --> DLAKE --> GLUE --> ATH --> QS.

Kinesis streams (from RESOURCES.streams) feed Firehose delivery streams, which write them,
partitioned by day, into the data lake as reference/analytics.py declares each table: the
clickstream's JSON records converted to Parquet with the Glue table's schema, the edge's
real-time log records as gzip tab-separated text. The Glue tables use partition projection;
Athena's workgroup enforces encrypted results and holds the named queries; the QuickSight data
source and one dataset per table exist only when a QuickSight principal is given.
"""

from __future__ import annotations

from awacs import glue as awacs_glue
from awacs import kinesis as awacs_kinesis
from awacs import kms as awacs_kms
from awacs import logs as awacs_logs
from awacs import s3 as awacs_s3
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole
from troposphere import (
    Equals,
    GetAtt,
    Not,
    Parameter,
    Ref,
    Sub,
    Template,
    athena,
    firehose,
    glue,
    iam,
    kinesis,
    quicksight,
)

from cfn.common import (
    IMPORTED_KEY,
    arn,
    explain,
    export,
    imported,
    logical_id,
    name,
    new_template,
    suppress_guard,
    tags,
)
from cfn.network import EXPORT_LOGS_BUCKET
from cfn.security import kms_export
from cfn.storage import add_bucket, add_own_bucket_policy
from reference import RESOURCES
from reference.analytics import DATABASE, PARTITION_KEYS, QUERIES, TABLES, LakeTable, storage, table_parameters
from reference.model import BucketRole, DeliveryStream, Stream

LAYER = "analytics"
KEY = kms_export("main")
LAKE = RESOURCES.bucket(BucketRole.DATA_LAKE)
GLUE_DATABASE = "GlueDatabase"
WORKGROUP = "AthenaWorkgroup"
HAS_QUICKSIGHT = "HasQuickSight"


def stream_export(stream: str) -> str:
    return f"stream-{stream}-arn"


def database_name() -> Sub:
    return name(DATABASE, sep="_")


def add_stream(t: Template, stream: Stream) -> kinesis.Stream:
    resource = kinesis.Stream(
        logical_id("stream", stream.name),
        Name=name(stream.name),
        ShardCount=stream.shards,
        StreamModeDetails=kinesis.StreamModeDetails(StreamMode="PROVISIONED"),
        RetentionPeriodHours=24,
        StreamEncryption=kinesis.StreamEncryption(EncryptionType="KMS", KeyId=imported(KEY)),
        Tags=tags(LAYER, purpose=stream.purpose),
    )
    producers = [f"{p} --> KDS" if p.isupper() else "API --> KDS" for p in stream.producers]
    suppress_guard(resource, "kinesis_stream_encrypted_check", IMPORTED_KEY)
    t.add_resource(explain(resource, "KDS", f"stream:{stream.name}", *producers))
    export(t, stream_export(stream.name), GetAtt(resource, "Arn"), stream.purpose)
    return resource


def add_glue(t: Template) -> None:
    db = glue.Database(
        GLUE_DATABASE,
        CatalogId=Ref("AWS::AccountId"),
        DatabaseInput=glue.DatabaseInput(Name=database_name(), Description="the shop's data lake"),
    )
    t.add_resource(explain(db, "GLUE", "DLAKE --> GLUE"))
    for table in TABLES:
        add_glue_table(t, table)


def add_glue_table(t: Template, table: LakeTable) -> glue.Table:
    location = f"s3://${{BucketDataLake}}/{table.location}"
    params = table_parameters(table, location)
    # Sub would read the projection's ${year} as a variable: ${!year} is a literal ${year}.
    params["storage.location.template"] = Sub(params["storage.location.template"].replace("=${", "=${!"))
    formats = storage(table)
    serde = formats["SerdeInfo"]
    assert isinstance(serde, dict)
    resource = glue.Table(
        logical_id("glue", "table", table.name),
        CatalogId=Ref("AWS::AccountId"),
        DatabaseName=Ref(GLUE_DATABASE),
        TableInput=glue.TableInput(
            Name=table.name,
            TableType="EXTERNAL_TABLE",
            Parameters=params,
            PartitionKeys=[glue.Column(Name=k, Type="string") for k in PARTITION_KEYS],
            StorageDescriptor=glue.StorageDescriptor(
                Columns=[
                    glue.Column(Name=c.name, Type=c.type, **({"Comment": c.comment} if c.comment else {}))
                    for c in table.columns
                ],
                Location=Sub(location),
                InputFormat=formats["InputFormat"],
                OutputFormat=formats["OutputFormat"],
                **({"Compressed": True} if formats.get("Compressed") else {}),
                SerdeInfo=glue.SerdeInfo(**serde),
            ),
        ),
    )
    return t.add_resource(explain(resource, "GLUE", "DLAKE --> GLUE", f"delivery:{table.delivery_stream}"))


def add_firehose_role(t: Template, streams: dict[str, kinesis.Stream], lake: object) -> iam.Role:
    """What Firehose needs: read the streams, write the lake, read the Glue schema, use the key, log errors."""
    statements = [
        Statement(
            Effect=Allow,
            Action=[
                awacs_kinesis.DescribeStream,
                awacs_kinesis.GetShardIterator,
                awacs_kinesis.GetRecords,
                awacs_kinesis.ListShards,
            ],
            Resource=[GetAtt(s, "Arn") for s in streams.values()],
        ),
        Statement(
            Effect=Allow,
            Action=[awacs_s3.AbortMultipartUpload, awacs_s3.GetBucketLocation, awacs_s3.ListBucket, awacs_s3.PutObject],
            Resource=[GetAtt(lake, "Arn"), Sub("${BucketDataLake.Arn}/*")],
        ),
        Statement(
            Effect=Allow,
            Action=[awacs_glue.GetTable, awacs_glue.GetTableVersion, awacs_glue.GetTableVersions],
            Resource=[
                arn("glue", "catalog"),
                Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/${GlueDatabase}"),
                Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${GlueDatabase}/*"),
            ],
        ),
        Statement(Effect=Allow, Action=[awacs_kms.Decrypt, awacs_kms.GenerateDataKey], Resource=[imported(KEY)]),
        Statement(
            Effect=Allow,
            Action=[awacs_logs.PutLogEvents],
            Resource=[arn("logs", "log-group:/aws/kinesisfirehose/shop-${Stage}-*")],
        ),
    ]
    role = iam.Role(
        "FirehoseRole",
        AssumeRolePolicyDocument=PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(Effect=Allow, Principal=Principal("Service", "firehose.amazonaws.com"), Action=[AssumeRole])
            ],
        ),
        Policies=[
            iam.Policy(PolicyName="deliver", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements))
        ],
    )
    return t.add_resource(explain(role, "KDS --> DLAKE"))


def add_delivery(t: Template, delivery: DeliveryStream, stream: kinesis.Stream, role: iam.Role) -> None:
    """KDS --> DLAKE as the table declares: its buffering, its prefixes, Parquet with its schema or text as is."""
    table = next(tb for tb in TABLES if tb.delivery_stream == delivery.name)
    conversion = {}
    if table.format == "parquet":
        conversion["DataFormatConversionConfiguration"] = firehose.DataFormatConversionConfiguration(
            Enabled=True,
            InputFormatConfiguration=firehose.InputFormatConfiguration(
                Deserializer=firehose.Deserializer(OpenXJsonSerDe=firehose.OpenXJsonSerDe())
            ),
            OutputFormatConfiguration=firehose.OutputFormatConfiguration(
                Serializer=firehose.Serializer(ParquetSerDe=firehose.ParquetSerDe())
            ),
            SchemaConfiguration=firehose.SchemaConfiguration(
                CatalogId=Ref("AWS::AccountId"),
                DatabaseName=Ref(GLUE_DATABASE),
                TableName=table.name,
                Region=Ref("AWS::Region"),
                RoleARN=GetAtt(role, "Arn"),
                VersionId="LATEST",
            ),
        )
    resource = firehose.DeliveryStream(
        logical_id("delivery", delivery.name),
        DeliveryStreamName=name(delivery.name),
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration=firehose.KinesisStreamSourceConfiguration(
            KinesisStreamARN=GetAtt(stream, "Arn"), RoleARN=GetAtt(role, "Arn")
        ),
        ExtendedS3DestinationConfiguration=firehose.ExtendedS3DestinationConfiguration(
            BucketARN=GetAtt("BucketDataLake", "Arn"),
            RoleARN=GetAtt(role, "Arn"),
            Prefix=table.prefix,
            ErrorOutputPrefix=table.error_prefix,
            BufferingHints=firehose.BufferingHints(
                IntervalInSeconds=table.buffer_interval_s, SizeInMBs=table.buffer_mb
            ),
            # Parquet compresses itself (Snappy); text goes as gzip, which Athena reads as it is.
            CompressionFormat="UNCOMPRESSED" if table.format == "parquet" else "GZIP",
            EncryptionConfiguration=firehose.EncryptionConfiguration(
                KMSEncryptionConfig=firehose.KMSEncryptionConfig(AWSKMSKeyARN=imported(KEY))
            ),
            CloudWatchLoggingOptions=firehose.CloudWatchLoggingOptions(
                Enabled=True,
                LogGroupName=Sub(f"/aws/kinesisfirehose/shop-${{Stage}}-{delivery.name}"),
                LogStreamName="errors",
            ),
            **conversion,
        ),
    )
    resource.DependsOn = [logical_id("glue", "table", table.name)]
    t.add_resource(explain(resource, "KDS", "KDS --> DLAKE", f"delivery:{delivery.name}"))


def add_athena(t: Template) -> athena.WorkGroup:
    workgroup = athena.WorkGroup(
        WORKGROUP,
        Name=name("analytics"),
        Description="the shop's analysts: encrypted results, 10 GB scan limit per query",
        WorkGroupConfiguration=athena.WorkGroupConfiguration(
            EnforceWorkGroupConfiguration=True,
            PublishCloudWatchMetricsEnabled=True,
            BytesScannedCutoffPerQuery=10 * 1024**3,
            ResultConfiguration=athena.ResultConfiguration(
                OutputLocation=Sub("s3://${BucketDataLake}/athena-results/"),
                EncryptionConfiguration=athena.EncryptionConfiguration(
                    EncryptionOption="SSE_KMS", KmsKey=imported(KEY)
                ),
            ),
        ),
        Tags=tags(LAYER),
    )
    suppress_guard(
        workgroup, "athena_workgroup_results_encrypted_at_rest_kms_check", "results are SSE_KMS: " + IMPORTED_KEY
    )
    t.add_resource(explain(workgroup, "ATH", "GLUE --> ATH"))
    for query in QUERIES:
        named = athena.NamedQuery(
            logical_id("query", query.name),
            Name=query.name,
            Description=query.description,
            Database=database_name(),
            WorkGroup=Ref(workgroup),
            QueryString=Sub(query.sql.replace("{db}", '"${GlueDatabase}"')),
        )
        t.add_resource(explain(named, "ATH", "GLUE --> ATH"))
    return workgroup


def add_quicksight(t: Template, workgroup: athena.WorkGroup) -> None:
    """QuickSight needs an account subscription, so its data source is optional (a principal ARN enables it)."""
    t.add_parameter(
        Parameter(
            "QuickSightPrincipalArn",
            Type="String",
            Default="",
            Description="QuickSight user or group ARN given the data source; empty: no QuickSight data source",
        )
    )
    t.add_condition(HAS_QUICKSIGHT, Not(Equals(Ref("QuickSightPrincipalArn"), "")))
    source = quicksight.DataSource(
        "QuickSightDataSource",
        Condition=HAS_QUICKSIGHT,
        AwsAccountId=Ref("AWS::AccountId"),
        DataSourceId=name("athena"),
        Name=name("athena"),
        Type="ATHENA",
        DataSourceParameters=quicksight.DataSourceParameters(
            AthenaParameters=quicksight.AthenaParameters(WorkGroup=Ref(workgroup))
        ),
        SslProperties=quicksight.SslProperties(DisableSsl=False),
        Permissions=[
            quicksight.ResourcePermission(
                Principal=Ref("QuickSightPrincipalArn"),
                Actions=[
                    f"quicksight:{a}" for a in ("DescribeDataSource", "DescribeDataSourcePermissions", "PassDataSource")
                ],
            )
        ],
    )
    t.add_resource(explain(source, "QS", "ATH --> QS"))
    for table in TABLES:
        add_quicksight_dataset(t, source, table)


QUICKSIGHT_TYPES = {"string": "STRING", "int": "INTEGER", "bigint": "INTEGER", "double": "DECIMAL",
                    "boolean": "BOOLEAN", "timestamp": "DATETIME"}  # fmt: skip


def add_quicksight_dataset(t: Template, source: quicksight.DataSource, table: LakeTable) -> None:
    """A direct-query dataset over one Glue table through Athena: what QuickSight's analyses are built on."""
    dataset = quicksight.DataSet(
        logical_id("quicksight", "dataset", table.name),
        Condition=HAS_QUICKSIGHT,
        AwsAccountId=Ref("AWS::AccountId"),
        DataSetId=name(f"lake-{table.name}"),
        Name=name(f"lake-{table.name}"),
        ImportMode="DIRECT_QUERY",
        PhysicalTableMap={
            table.name.replace("_", ""): quicksight.PhysicalTable(
                RelationalTable=quicksight.RelationalTable(
                    DataSourceArn=GetAtt(source, "Arn"),
                    Catalog="AwsDataCatalog",
                    Schema=database_name(),
                    Name=table.name,
                    InputColumns=[
                        quicksight.InputColumn(Name=c.name, Type=QUICKSIGHT_TYPES[c.type]) for c in table.columns
                    ],
                )
            )
        },
        Permissions=[
            quicksight.ResourcePermission(
                Principal=Ref("QuickSightPrincipalArn"),
                Actions=[
                    f"quicksight:{a}"
                    for a in ("DescribeDataSet", "DescribeDataSetPermissions", "PassDataSet", "DescribeIngestion",
                              "ListIngestions")
                ],
            )
        ],
    )  # fmt: skip
    t.add_resource(explain(dataset, "QS"))  # the data source realises ATH --> QS


def build() -> Template:
    t = new_template(LAYER, "Kinesis streams, Firehose to the data lake as Parquet, Glue, Athena, QuickSight")
    lake = add_bucket(
        t, LAKE, LAYER, "DLAKE", "KDS --> DLAKE", kms_key_arn=imported(KEY), logs_bucket=imported(EXPORT_LOGS_BUCKET)
    )
    add_own_bucket_policy(t, lake)
    streams = {s.name: add_stream(t, s) for s in RESOURCES.streams}
    add_glue(t)
    role = add_firehose_role(t, streams, lake)
    for delivery in RESOURCES.delivery_streams:
        add_delivery(t, delivery, streams[delivery.source_stream], role)
    add_quicksight(t, add_athena(t))
    return t
