# ruff: noqa: E501  (one documented setting per line reads better than wrapped strings)
"""Real setting shapes from the services' documented formats, with the class each must get.

Every value is fake: keys are base64 of phrases such as "fake-account-key-for-tests-only",
passwords say so. `passwordless` marks the documented credential-free forms (identity-based
connections, Entra authentication, Application Insights): a false positive there fails the build.
`known_limit` marks secrets that no classifier can see from the name and value alone; they count
against recall, honestly, instead of being left out.
"""

from __future__ import annotations

import base64
from typing import NamedTuple


class Case(NamedTuple):
    service: str
    name: str
    value: str
    expected: str
    passwordless: bool = False
    known_limit: bool = False


def _b64(phrase: str, size: int = 64) -> str:
    raw = (phrase.encode() * (size // len(phrase) + 1))[:size]
    return base64.b64encode(raw).decode()


KEY = _b64("fake-account-key-for-tests-only-")  # 88 characters, like a storage account key
SAS_SIG = "ZmFrZS1zYXMtc2lnbmF0dXJlLWZvci10ZXN0cw%3D%3D"
GUID = "00000000-0000-4000-8000-000000000000"
HEX32 = "0123456789abcdef0123456789abcdef"
JWT = (
    base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
    + "."
    + base64.urlsafe_b64encode(b'{"sub":"fake-subject","aud":"api://fake"}').decode().rstrip("=")
    + ".ZmFrZS1zaWduYXR1cmU"
)
PEM = "-----BEGIN {label}-----\nMIIEfakefakefakefakefakefakefakefake\n-----END {label}-----"
PASSWORD = "Fake-Passw0rd-For-Tests"

CORPUS: tuple[Case, ...] = (
    # Storage: account key, SAS, Azurite, identity-based (Functions host storage and bindings).
    Case(
        "storage",
        "AzureWebJobsStorage",
        f"DefaultEndpointsProtocol=https;AccountName=stfake;AccountKey={KEY};EndpointSuffix=core.windows.net",
        "account-key",
    ),
    Case(
        "storage",
        "STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=https;AccountName=stfake;AccountKey={KEY}",
        "account-key",
    ),
    Case("storage", "AZURE_STORAGE_KEY", KEY, "secret"),
    Case("storage", "AZURE_STORAGE_ACCOUNT_KEY", KEY, "secret"),
    Case(
        "storage",
        "BLOB_SAS_URL",
        f"https://stfake.blob.core.windows.net/models?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&st=2026-01-01T00:00:00Z&spr=https&sig={SAS_SIG}",
        "sas-token",
    ),
    Case(
        "storage",
        "WEBSITE_RUN_FROM_PACKAGE",
        f"https://stfake.blob.core.windows.net/pkg/app.zip?sv=2022-11-02&sr=b&sp=r&se=2027-01-01&sig={SAS_SIG}",
        "sas-token",
    ),
    Case(
        "storage",
        "AZURE_STORAGE_SAS_TOKEN",
        f"?sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2027-01-01T00:00:00Z&sig={SAS_SIG}",
        "sas-token",
    ),
    Case(
        "storage",
        "StorageSasConnection",
        f"BlobEndpoint=https://stfake.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=sco&sp=rl&sig={SAS_SIG}",
        "sas-token",
    ),
    Case("storage", "AzureWebJobsStorage", "UseDevelopmentStorage=true", "none"),
    Case("storage", "AzureWebJobsStorage__accountName", "stfake", "none", passwordless=True),
    Case(
        "storage",
        "AzureWebJobsStorage__blobServiceUri",
        "https://stfake.blob.core.windows.net",
        "none",
        passwordless=True,
    ),
    Case(
        "storage",
        "AzureWebJobsStorage__queueServiceUri",
        "https://stfake.queue.core.windows.net",
        "none",
        passwordless=True,
    ),
    Case("storage", "AzureWebJobsStorage__credential", "managedidentity", "none", passwordless=True),
    Case("storage", "AzureWebJobsStorage__clientId", GUID, "none", passwordless=True),
    Case("storage", "AzureWebJobsStorage__clientSecret", "fake~client~secret~value~0123456789", "secret"),
    Case("storage", "MyBlobConnection__serviceUri", "https://stfake.blob.core.windows.net", "none", passwordless=True),
    Case("storage", "AZURE_STORAGE_ACCOUNT_NAME", "stfake", "none"),
    Case("storage", "AZURE_STORAGE_BLOB_ENDPOINT", "https://stfake.blob.core.windows.net/", "none"),
    Case("storage", "STORAGE_BACKUP", KEY, "secret", known_limit=True),
    # Azure SQL: SQL authentication vs Entra (managed identity, default, interactive-free) forms.
    Case(
        "sql",
        "SQL_CONNECTION",
        f"Server=tcp:sqlfake.database.windows.net,1433;Initial Catalog=phi;Persist Security Info=False;User ID=app;Password={PASSWORD};MultipleActiveResultSets=False;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;",
        "password",
    ),
    Case(
        "sql",
        "DefaultConnection",
        f"Data Source=sqlfake.database.windows.net;Initial Catalog=phi;User Id=app;Pwd={PASSWORD};",
        "password",
    ),
    Case(
        "sql",
        "SQL_SPACED",
        f"Server = sqlfake.database.windows.net; Database = phi; User ID = app; Password = {PASSWORD}",
        "password",
    ),
    Case(
        "sql",
        "JDBC_URL",
        f"jdbc:sqlserver://sqlfake.database.windows.net:1433;database=phi;user=app@sqlfake;password={PASSWORD};encrypt=true;trustServerCertificate=false;",
        "password",
    ),
    Case(
        "sql",
        "SQL_CONNECTION",
        "Server=tcp:sqlfake.database.windows.net,1433;Database=phi;Authentication=Active Directory Managed Identity;",
        "none",
        passwordless=True,
    ),
    Case(
        "sql",
        "SQL_CONNECTION",
        f"Server=tcp:sqlfake.database.windows.net,1433;Database=phi;Authentication=Active Directory Managed Identity;User Id={GUID};Encrypt=True;",
        "none",
        passwordless=True,
    ),
    Case(
        "sql",
        "ConnectionStrings__Default",
        "Server=tcp:sqlfake.database.windows.net;Authentication=Active Directory Default;Database=phi;",
        "none",
        passwordless=True,
    ),
    Case(
        "sql",
        "SQL_MSI",
        "Server=sqlfake.database.windows.net;Database=phi;Authentication=Active Directory MSI;Encrypt=True",
        "none",
        passwordless=True,
    ),
    Case(
        "sql",
        "JDBC_URL",
        "jdbc:sqlserver://sqlfake.database.windows.net:1433;database=phi;encrypt=true;authentication=ActiveDirectoryMSI;",
        "none",
        passwordless=True,
    ),
    Case("sql", "SQL_PASSWORD", PASSWORD, "password"),
    Case("sql", "SQL_SERVER_NAME", "sqlfake.database.windows.net", "none"),
    # Cosmos DB: key, Mongo API URI, endpoint-only and identity-based.
    Case(
        "cosmos",
        "CosmosDbConnection",
        f"AccountEndpoint=https://cosmosfake.documents.azure.com:443/;AccountKey={KEY};",
        "account-key",
    ),
    Case(
        "cosmos",
        "MONGO_URI",
        "mongodb://cosmosfake:ZmFrZS1jb3Ntb3Mta2V5%3D%3D@cosmosfake.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@cosmosfake@",
        "connection-string",
    ),
    Case("cosmos", "COSMOS_KEY", KEY, "secret"),
    Case(
        "cosmos",
        "CosmosDbConnection",
        "AccountEndpoint=https://cosmosfake.documents.azure.com:443/;",
        "none",
        passwordless=True,
    ),
    Case(
        "cosmos",
        "CosmosDbConnection__accountEndpoint",
        "https://cosmosfake.documents.azure.com:443/",
        "none",
        passwordless=True,
    ),
    Case("cosmos", "COSMOS_ENDPOINT", "https://cosmosfake.documents.azure.com:443/", "none"),
    # Service Bus and Event Hubs: SAS keys and signatures vs managed identity.
    Case(
        "servicebus",
        "ServiceBusConnection",
        f"Endpoint=sb://sbfake.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={KEY}",
        "account-key",
    ),
    Case(
        "servicebus",
        "SB_SAS",
        f"Endpoint=sb://sbfake.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=sbfake.servicebus.windows.net&sig={SAS_SIG}&se=1900000000&skn=send",
        "sas-token",
    ),
    Case(
        "servicebus",
        "ServiceBusConnection",
        "Endpoint=sb://sbfake.servicebus.windows.net/;Authentication=ManagedIdentity",
        "none",
        passwordless=True,
    ),
    Case(
        "servicebus",
        "ServiceBusConnection__fullyQualifiedNamespace",
        "sbfake.servicebus.windows.net",
        "none",
        passwordless=True,
    ),
    Case("servicebus", "ServiceBusConnection__credential", "managedidentity", "none", passwordless=True),
    Case("servicebus", "SERVICEBUS_SHARED_ACCESS_KEY_NAME", "RootManageSharedAccessKey", "none"),
    Case(
        "eventhubs",
        "EventHubConnection",
        f"Endpoint=sb://ehfake.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey={KEY};EntityPath=telemetry",
        "account-key",
    ),
    Case(
        "eventhubs",
        "EventHubConnection",
        "Endpoint=sb://ehfake.servicebus.windows.net/;Authentication=Managed Identity;EntityPath=telemetry",
        "none",
        passwordless=True,
    ),
    Case(
        "eventhubs",
        "EventHubConnection__fullyQualifiedNamespace",
        "ehfake.servicebus.windows.net",
        "none",
        passwordless=True,
    ),
    Case("eventhubs", "EventHubConnection__clientId", GUID, "none", passwordless=True),
    Case("eventhubs", "EVENTHUB_NAME", "telemetry", "none"),
    # Redis: access key in StackExchange and URI forms vs Entra authentication.
    Case(
        "redis",
        "REDIS_CONNECTION",
        f"redisfake.redis.cache.windows.net:6380,password={KEY},ssl=True,abortConnect=False",
        "password",
    ),
    Case(
        "redis",
        "REDIS_URL",
        "rediss://:ZmFrZS1yZWRpcy1rZXk@redisfake.redis.cache.windows.net:6380/0",
        "connection-string",
    ),
    Case("redis", "REDIS_KEY", KEY, "secret"),
    Case(
        "redis",
        "REDIS_CONNECTION",
        "redisfake.redis.cache.windows.net:6380,ssl=True,abortConnect=False",
        "none",
        passwordless=True,
    ),
    Case("redis", "REDIS_HOST", "redisfake.redis.cache.windows.net", "none"),
    # Application Insights: the instrumentation key is documented as not a secret.
    Case(
        "appinsights",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        f"InstrumentationKey={GUID};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;ApplicationId={GUID}",
        "none",
        passwordless=True,
    ),
    Case("appinsights", "APPINSIGHTS_INSTRUMENTATIONKEY", GUID, "none", passwordless=True),
    Case("appinsights", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD", "none", passwordless=True),
    Case(
        "appinsights",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        f"Authorization=AAD;ClientId={GUID}",
        "none",
        passwordless=True,
    ),
    Case("appinsights", "ApplicationInsightsAgent_EXTENSION_VERSION", "~3", "none"),
    # PostgreSQL and MySQL flexible server: passwords in each driver's form vs Entra tokens.
    Case(
        "postgres",
        "DATABASE_URL",
        "postgresql://app:Fake-Passw0rd@pgfake.postgres.database.azure.com:5432/phi?sslmode=require",
        "connection-string",
    ),
    Case(
        "postgres",
        "PG_CONN",
        f"host=pgfake.postgres.database.azure.com port=5432 dbname=phi user=app password={PASSWORD} sslmode=require",
        "password",
    ),
    Case(
        "postgres",
        "ConnectionStrings__Pg",
        f"Host=pgfake.postgres.database.azure.com;Database=phi;Username=app;Password={PASSWORD};Ssl Mode=Require",
        "password",
    ),
    Case(
        "postgres",
        "DATABASE_URL",
        "postgresql://mi-app@pgfake.postgres.database.azure.com:5432/phi?sslmode=require",
        "none",
        passwordless=True,
    ),
    Case(
        "postgres",
        "ConnectionStrings__Pg",
        "Host=pgfake.postgres.database.azure.com;Database=phi;Username=mi-app;Ssl Mode=Require",
        "none",
        passwordless=True,
    ),
    Case("postgres", "PGPASSWORD", PASSWORD, "password"),
    Case("postgres", "PGHOST", "pgfake.postgres.database.azure.com", "none"),
    Case(
        "mysql",
        "MYSQL_CONN",
        f"Server=myfake.mysql.database.azure.com;UserID=app;Password={PASSWORD};Database=phi;SslMode=Required",
        "password",
    ),
    Case(
        "mysql", "MYSQL_URL", "mysql://app:Fake-Passw0rd@myfake.mysql.database.azure.com:3306/phi", "connection-string"
    ),
    Case(
        "mysql",
        "MYSQL_CONN",
        "Server=myfake.mysql.database.azure.com;UserID=mi-app;Database=phi;SslMode=Required",
        "none",
        passwordless=True,
    ),
    # SignalR and Web PubSub: access key vs managed identity.
    Case(
        "signalr",
        "AzureSignalRConnectionString",
        f"Endpoint=https://srfake.service.signalr.net;AccessKey={KEY};Version=1.0;",
        "account-key",
    ),
    Case(
        "signalr",
        "AzureSignalRConnectionString",
        "Endpoint=https://srfake.service.signalr.net;AuthType=azure.msi;Version=1.0;",
        "none",
        passwordless=True,
    ),
    Case(
        "signalr",
        "WebPubSubConnectionString",
        f"Endpoint=https://wpsfake.webpubsub.azure.com;AccessKey={KEY};Version=1.0;",
        "account-key",
    ),
    Case(
        "signalr",
        "WebPubSubConnectionString",
        f"Endpoint=https://wpsfake.webpubsub.azure.com;AuthType=azure.msi;ClientId={GUID};Version=1.0;",
        "none",
        passwordless=True,
    ),
    # Azure OpenAI and AI services: keys vs endpoints, versions and deployment names.
    Case("openai", "AZURE_OPENAI_API_KEY", HEX32, "secret"),
    Case("openai", "AZURE_OPENAI_KEY", HEX32, "secret"),
    Case("openai", "OPENAI_API_KEY", "sk-proj-ZmFrZS1vcGVuYWkta2V5LWZvci10ZXN0cw", "token"),
    Case(
        "openai", "ConnectionStrings__openai", f"Endpoint=https://aoaifake.openai.azure.com/;Key={HEX32}", "account-key"
    ),
    Case(
        "openai", "ConnectionStrings__openai", "Endpoint=https://aoaifake.openai.azure.com/", "none", passwordless=True
    ),
    Case("openai", "AZURE_OPENAI_ENDPOINT", "https://aoaifake.openai.azure.com/", "none"),
    Case("openai", "OPENAI_API_VERSION", "2024-10-21", "none"),
    Case("openai", "AZURE_OPENAI_DEPLOYMENT_NAME", "gpt-4o-mini", "none"),
    Case("ai", "AZURE_AI_SEARCH_ADMIN_KEY", KEY, "secret"),
    Case("ai", "COGNITIVE_SERVICES_SUBSCRIPTION_KEY", HEX32, "secret"),
    Case("ai", "Ocp-Apim-Subscription-Key", HEX32, "secret"),
    Case("ai", "AZURE_SEARCH_INDEX_NAME", "clinical-notes", "none"),
    Case(
        "appconfig",
        "AppConfigConnection",
        f"Endpoint=https://acfake.azconfig.io;Id=fake-id-0:abcdef;Secret={KEY}",
        "secret",
    ),
    Case("appconfig", "AppConfig__Endpoint", "https://acfake.azconfig.io", "none", passwordless=True),
    # Tokens: JWT, bearer, API token formats.
    Case("token", "ACCESS_TOKEN", JWT, "token"),
    Case("token", "AUTH_HEADER", f"Bearer {JWT}", "token"),
    Case("token", "WEBHOOK_AUTHORIZATION", "Basic ZmFrZS11c2VyOmZha2UtcGFzc3dvcmQ=", "token"),
    Case("token", "GITHUB_TOKEN", "ghp_ZmFrZWdpdGh1YnRva2VuZm9ydGVzdHMwMDAw", "token"),
    Case("token", "HF_TOKEN", "hf_ZmFrZWh1Z2dpbmdmYWNldG9rZW5mb3J0ZXN0cw", "token"),
    Case("token", "SLACK_BOT_TOKEN", "xoxb-000000000000-000000000000-ZmFrZXNsYWNrdG9rZW4", "token"),
    Case("token", "WANDB_API_KEY", "0123456789abcdef0123456789abcdef01234567", "secret"),
    Case(
        "token",
        "FUNCTION_WEBHOOK",
        "https://fnfake.azurewebsites.net/api/score?code=ZmFrZS1mdW5jdGlvbi1rZXktZm9yLXRlc3Rz",
        "token",
    ),
    Case("token", "JWT_ISSUER", "https://login.microsoftonline.com/00000000-0000-4000-8000-000000000000/v2.0", "none"),
    Case("token", "TOKEN_AUDIENCE", "api://00000000-0000-4000-8000-000000000000", "none"),
    Case("token", "TOKEN_ENDPOINT", "https://login.microsoftonline.com/common/oauth2/v2.0/token", "none"),
    # Private keys (PEM) and service principal credentials.
    Case("pem", "TLS_KEY", PEM.format(label="RSA PRIVATE KEY"), "private-key"),
    Case("pem", "SIGNING_CERT", PEM.format(label="PRIVATE KEY"), "private-key"),
    Case("pem", "SSH_DEPLOY", PEM.format(label="OPENSSH PRIVATE KEY"), "private-key"),
    Case("pem", "EC_KEY", PEM.format(label="ENCRYPTED PRIVATE KEY"), "private-key"),
    Case("pem", "TLS_CERT", PEM.format(label="CERTIFICATE"), "none"),
    Case("pem", "SSH_PUBLIC_KEY", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCfakefakefake fake@host", "none"),
    Case("sp", "AZURE_CLIENT_SECRET", "Fake8Q~fakeClientSecretValueForTests00", "secret"),
    Case("sp", "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET", "Fake8Q~fakeEasyAuthSecretValueForTests", "secret"),
    Case(
        "sp",
        "AZURE_CREDENTIALS",
        '{"clientId": "'
        + GUID
        + '", "clientSecret": "Fake8Q~fakeSecret0000", "subscriptionId": "'
        + GUID
        + '", "tenantId": "'
        + GUID
        + '"}',
        "secret",
    ),
    Case(
        "sp",
        "AZURE_CREDENTIALS",
        '{"clientId": "' + GUID + '", "subscriptionId": "' + GUID + '", "tenantId": "' + GUID + '"}',
        "none",
        passwordless=True,
    ),
    Case("sp", "AZURE_CLIENT_ID", GUID, "none", passwordless=True),
    Case("sp", "AZURE_TENANT_ID", GUID, "none", passwordless=True),
    Case(
        "sp",
        "AZURE_FEDERATED_TOKEN_FILE",
        "/var/run/secrets/azure/tokens/azure-identity-token",
        "none",
        passwordless=True,
    ),
    Case("sp", "DOCKER_REGISTRY_SERVER_PASSWORD", PASSWORD, "password"),
    Case("sp", "DOCKER_REGISTRY_SERVER_USERNAME", "acrfake", "none"),
    Case("sp", "DOCKER_REGISTRY_SERVER_URL", "https://acrfake.azurecr.io", "none"),
    # Names that look secret but hold identifiers or switches.
    Case("decoy", "AZURE_KEY_VAULT_URI", "https://kvfake.vault.azure.net/", "none"),
    Case("decoy", "KEY_VAULT_URL", "https://kvfake.vault.azure.net/", "none"),
    Case("decoy", "AZURE_KEYVAULT_ENDPOINT", "https://kvfake.vault.azure.net/", "none"),
    Case("decoy", "KEY_VAULT_SECRET_NAME", "db-password", "none"),
    Case("decoy", "AzureWebJobsSecretStorageType", "keyvault", "none"),
    Case("decoy", "AzureWebJobsSecretStorageKeyVaultUri", "https://kvfake.vault.azure.net/", "none"),
    Case("decoy", "ENABLE_PASSWORD_RESET", "true", "none"),
    Case("decoy", "PASSWORD_MIN_LENGTH", "12", "none"),
    Case("decoy", "PASSWORD_HASH_ALGORITHM", "argon2id", "none"),
    Case("decoy", "SECRET_ROTATION_DAYS", "90", "none"),
    Case("decoy", "KEY_ROTATION_ENABLED", "true", "none"),
    Case("decoy", "TOKENIZERS_PARALLELISM", "false", "none"),
    Case("decoy", "HF_TOKENIZER", "bert-base-uncased", "none"),
    Case("decoy", "MAX_TOKENS", "4096", "none"),
    Case("decoy", "PARTITION_KEY", "/patientId", "none"),
    Case("decoy", "PWD", "/home/site/wwwroot", "none"),
    Case("decoy", "USE_PASSWORDLESS_AUTH", "enabled-for-all-clients", "none"),
    Case("decoy", "ENCRYPTION_KEY_ID", "https://kvfake.vault.azure.net/keys/cmk/0123456789abcdef", "none"),
    Case("decoy", "WEBSITE_AUTH_AAD_ALLOWED_TENANTS", GUID, "none"),
    Case("decoy", "FUNCTIONS_WORKER_RUNTIME", "python", "none"),
    Case("decoy", "DB_PASSWORD", "<your-password>", "none"),
    Case(
        "decoy", "SQL_CONNECTION", "Server=sqlfake.database.windows.net;User ID=app;Password={your_password};", "none"
    ),
    Case("decoy", "API_KEY", "${API_KEY}", "none"),
    Case(
        "decoy",
        "DB_PASSWORD",
        "@Microsoft.KeyVault(SecretUri=https://kvfake.vault.azure.net/secrets/db-password/)",
        "none",
    ),
    Case("decoy", "SERVICEBUS", "@Microsoft.KeyVault(VaultName=kvfake;SecretName=sb-connection)", "none"),
    Case(
        "cosmos",
        "MONGO_URI",
        "mongodb://cosmosfake:ZmFrZS1rZXk/ZmFrZQ==@cosmosfake.mongo.cosmos.azure.com:10255/",
        "connection-string",
        known_limit=True,
    ),
)
