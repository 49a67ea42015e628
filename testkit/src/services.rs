//! Handles on the real services of `scripts/services.sh up`.
//!
//! Settings come from the process environment first, then from `.services.env`
//! at the repository root (written by `services.sh up`). Every handle checks that
//! its service answers before returning, so a test fails at its first line with
//! the command to run, not later with a confusing timeout.

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

const HOW_TO_FIX: &str = "run `scripts/services.sh up` (or `scripts/test.sh`, which does)";

/// A name no other test (or earlier run) uses: `<prefix>-<12 hex digits>`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// The settings of the running services.
#[derive(Debug, Clone)]
pub struct Services {
    vars: HashMap<String, String>,
}

impl Services {
    /// Reads the settings once per test binary.
    pub fn get() -> &'static Services {
        static SERVICES: OnceLock<Services> = OnceLock::new();
        SERVICES.get_or_init(Services::load)
    }

    fn load() -> Services {
        let env_file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.services.env");
        let mut vars = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&env_file) {
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('#') {
                    continue;
                }
                if let Some((key, value)) = line.split_once('=') {
                    vars.insert(key.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        for (key, value) in std::env::vars() {
            if key.starts_with("BILLABONG_") || key.starts_with("AWS_") {
                vars.insert(key, value);
            }
        }
        Services { vars }
    }

    /// A setting, or a loud failure naming it.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!("{key} is not set and .services.env does not have it: {HOW_TO_FIX}")
        })
    }

    /// The Kafka broker, checked to answer.
    pub fn kafka(&self) -> KafkaHandle {
        let brokers = self.var("BILLABONG_BROKERS").to_owned();
        require_reachable("Kafka", &brokers);
        KafkaHandle { brokers }
    }

    /// The PostgreSQL server, checked to answer.
    pub fn postgres(&self) -> PostgresHandle {
        let url = self.var("BILLABONG_POSTGRES_URL").to_owned();
        let host_port = url
            .rsplit_once('@')
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_else(|| panic!("BILLABONG_POSTGRES_URL {url:?} has no host:port"))
            .to_owned();
        require_reachable("PostgreSQL", &host_port);
        PostgresHandle { url }
    }

    /// The S3-compatible server, checked to answer.
    pub fn lake(&self) -> LakeHandle {
        let endpoint = self.var("AWS_ENDPOINT_URL").to_owned();
        let host_port = endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        require_reachable("the S3 server", &host_port);
        LakeHandle {
            endpoint,
            bucket: self.var("BILLABONG_S3_BUCKET").to_owned(),
            access_key: self.var("AWS_ACCESS_KEY_ID").to_owned(),
            secret_key: self.var("AWS_SECRET_ACCESS_KEY").to_owned(),
            region: self.var("AWS_REGION").to_owned(),
        }
    }
}

fn require_reachable(service: &str, host_port: &str) {
    let first = host_port.split(',').next().unwrap_or(host_port);
    let addrs: Vec<_> = first
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("{service} address {first:?} is invalid ({e}): {HOW_TO_FIX}"))
        .collect();
    let reachable = addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok());
    assert!(
        reachable,
        "{service} at {first} is unreachable: {HOW_TO_FIX}"
    );
}

/// The real Kafka broker.
#[derive(Debug, Clone)]
pub struct KafkaHandle {
    /// Bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
}

impl KafkaHandle {
    /// A client config with the bootstrap servers set.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config
    }

    /// Creates a fresh topic `test.<prefix>-<id>` and returns its name.
    pub async fn fresh_topic(&self, prefix: &str, partitions: i32) -> String {
        let name = format!("test.{}", unique_name(prefix));
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .create()
            .unwrap_or_else(|e| panic!("cannot create a Kafka admin client: {e}"));
        let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)));
        let results = admin
            .create_topics([&topic], &options)
            .await
            .unwrap_or_else(|e| panic!("creating topic {name} failed: {e}"));
        for result in results {
            if let Err((topic, code)) = result {
                panic!("creating topic {topic} failed: {code}");
            }
        }
        name
    }
}

/// The real PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PostgresHandle {
    /// URL of the project's database.
    pub url: String,
}

impl PostgresHandle {
    /// Creates a fresh, empty database and returns its URL. Databases (not
    /// schemas) so that migrations can assume `public` is theirs.
    pub async fn fresh_database(&self, prefix: &str) -> String {
        let name = unique_name(prefix).replace('-', "_");
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {}: {e}", self.url));
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
        let (base, _) = self
            .url
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("BILLABONG_POSTGRES_URL {:?} has no database", self.url));
        format!("{base}/{name}")
    }
}

/// The real S3-compatible server.
#[derive(Debug, Clone)]
pub struct LakeHandle {
    /// `http://host:port`.
    pub endpoint: String,
    /// The project's bucket.
    pub bucket: String,
    access_key: String,
    secret_key: String,
    region: String,
}

impl LakeHandle {
    /// An object_store client for the bucket, configured as the sink will be
    /// (path-style requests, plain HTTP, create-only puts by ETag).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
            .with_region(&self.region)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap_or_else(|e| panic!("cannot build the S3 client: {e}"));
        Arc::new(store)
    }

    /// A fresh prefix inside the bucket: `tests/<prefix>-<id>`.
    pub fn fresh_prefix(&self, prefix: &str) -> String {
        format!("tests/{}", unique_name(prefix))
    }
}
