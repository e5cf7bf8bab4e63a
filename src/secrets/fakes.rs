//! Fake credentials of every shape the detector knows, for tests here and in `tests/`:
//! each assembled at run time from a seeded generator, so the repository holds no
//! string a secret scanner would mistake for a real key.

#![allow(missing_docs)]

/// `n` characters from `alphabet`, deterministic in `salt`.
pub fn fill(alphabet: &str, n: usize, salt: u64) -> String {
    let a = alphabet.as_bytes();
    let mut x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            a[(x % a.len() as u64) as usize] as char
        })
        .collect()
}

pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const LOWER_ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const HEX: &str = "0123456789abcdef";
pub const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// One fake credential: its kind, the text it appears in, and the secret part that must
/// not survive.
pub struct Fake {
    /// What it is.
    pub kind: &'static str,
    /// The text it appears in.
    pub text: String,
    /// The part that must not survive redaction.
    pub secret: String,
}

impl Fake {
    /// The last 12 characters of the secret: what a leak check looks for.
    pub fn tail(&self) -> &str {
        &self.secret[self.secret.len().saturating_sub(12)..]
    }
}

fn fake(kind: &'static str, secret: String) -> Fake {
    Fake {
        kind,
        text: secret.clone(),
        secret,
    }
}

fn in_context(kind: &'static str, before: &str, secret: String, after: &str) -> Fake {
    Fake {
        kind,
        text: format!("{before}{secret}{after}"),
        secret,
    }
}

/// Credentials of every shape the detector knows (and some it knows only by context).
pub fn credentials() -> Vec<Fake> {
    let pem_body = (0..6)
        .map(|i| fill(B64, 64, 900 + i))
        .collect::<Vec<_>>()
        .join("\n");
    vec![
        fake("OpenAI legacy", format!("sk-{}", fill(ALNUM, 48, 1))),
        fake("OpenAI project", format!("sk-proj-{}", fill(URLSAFE, 120, 2))),
        fake("OpenAI service account", format!("sk-svcacct-{}", fill(URLSAFE, 80, 3))),
        fake("OpenAI admin", format!("sk-admin-{}", fill(URLSAFE, 60, 4))),
        fake("Anthropic", format!("sk-ant-api03-{}AA", fill(URLSAFE, 93, 5))),
        fake("Anthropic admin", format!("sk-ant-admin01-{}AA", fill(URLSAFE, 93, 6))),
        fake("OpenRouter", format!("sk-or-v1-{}", fill(HEX, 64, 7))),
        fake("DeepSeek", format!("sk-{}", fill(HEX, 32, 8))),
        fake("Google API", format!("AIza{}", fill(URLSAFE, 35, 9))),
        fake("Google OAuth", format!("ya29.{}", fill(URLSAFE, 150, 10))),
        fake("Google refresh", format!("1//0{}", fill(URLSAFE, 100, 11))),
        fake("Google client secret", format!("GOCSPX-{}", fill(URLSAFE, 28, 12))),
        fake("Groq", format!("gsk_{}", fill(ALNUM, 52, 13))),
        fake("xAI", format!("xai-{}", fill(ALNUM, 80, 14))),
        fake("Hugging Face", format!("hf_{}", fill(ALNUM, 34, 15))),
        fake("Replicate", format!("r8_{}", fill(ALNUM, 37, 16))),
        fake("Perplexity", format!("pplx-{}", fill(ALNUM, 48, 17))),
        fake("Together new", format!("tgp_v1_{}", fill(URLSAFE, 43, 18))),
        in_context("Together", "TOGETHER_API_KEY=", fill(HEX, 64, 19), "\n"),
        fake("Tavily", format!("tvly-dev-{}", fill(ALNUM, 32, 20))),
        fake("Pinecone", format!("pcsk_{}_{}", fill(ALNUM, 5, 21), fill(ALNUM, 60, 22))),
        in_context(
            "Pinecone legacy",
            "export PINECONE_API_KEY=\"",
            format!(
                "{}-{}-4{}-a{}-{}",
                fill(HEX, 8, 23),
                fill(HEX, 4, 24),
                fill(HEX, 3, 25),
                fill(HEX, 3, 26),
                fill(HEX, 12, 27)
            ),
            "\"",
        ),
        in_context("Cohere", "COHERE_API_KEY=", fill(ALNUM, 40, 28), " "),
        in_context("Cohere in prose", "my cohere api key: ", fill(ALNUM, 40, 29), ""),
        in_context("Mistral", "MISTRAL_API_KEY = '", fill(ALNUM, 32, 30), "'"),
        fake("Fireworks", format!("fw_{}", fill(ALNUM, 24, 31))),
        fake("ElevenLabs", format!("sk_{}", fill(HEX, 48, 32))),
        fake(
            "LangSmith",
            format!("lsv2_pt_{}_{}", fill(HEX, 32, 33), fill(HEX, 10, 34)),
        ),
        fake("Voyage", format!("pa-{}", fill(URLSAFE, 43, 35))),
        fake("AWS access key id", format!("AKIA{}", fill(UPPER_ALNUM, 16, 36))),
        fake("AWS temporary key id", format!("ASIA{}", fill(UPPER_ALNUM, 16, 37))),
        in_context(
            "AWS secret",
            "aws_secret_access_key = ",
            fill(B64, 40, 38),
            "\n",
        ),
        in_context(
            "AWS secret env",
            "AWS_SECRET_ACCESS_KEY=",
            fill(B64, 40, 39),
            " ",
        ),
        fake(
            "AWS session token",
            format!("IQoJb3JpZ2luX2VjE{}", fill(B64, 300, 40)),
        ),
        in_context(
            "AWS session token by context",
            "aws_session_token=",
            fill(B64, 200, 41),
            "",
        ),
        in_context(
            "Azure OpenAI key",
            "AZURE_OPENAI_API_KEY=",
            fill(HEX, 32, 42),
            "",
        ),
        in_context(
            "Azure storage connection string",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=",
            format!("{}==", fill(B64, 86, 43)),
            ";EndpointSuffix=core.windows.net",
        ),
        in_context(
            "Azure Service Bus connection string",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=",
            format!("{}=", fill(B64, 43, 44)),
            "",
        ),
        fake(
            "Azure AD client secret",
            format!("{}8Q~{}", fill(ALNUM, 3, 45), fill(URLSAFE, 34, 46)),
        ),
        fake("GitHub classic", format!("ghp_{}", fill(ALNUM, 36, 47))),
        fake("GitHub OAuth", format!("gho_{}", fill(ALNUM, 36, 48))),
        fake(
            "GitHub fine-grained",
            format!("github_pat_{}_{}", fill(ALNUM, 22, 49), fill(ALNUM, 59, 50)),
        ),
        fake("GitLab", format!("glpat-{}", fill(URLSAFE, 20, 51))),
        fake("GitLab runner", format!("glrt-{}", fill(URLSAFE, 24, 52))),
        fake(
            "Slack bot",
            format!(
                "xoxb-{}-{}-{}",
                fill("0123456789", 12, 53),
                fill("0123456789", 13, 54),
                fill(ALNUM, 24, 55)
            ),
        ),
        fake(
            "Slack webhook",
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                fill(UPPER_ALNUM, 8, 56),
                fill(UPPER_ALNUM, 10, 57),
                fill(ALNUM, 24, 58)
            ),
        ),
        fake(
            "Discord webhook",
            format!(
                "https://discord.com/api/webhooks/{}/{}",
                fill("0123456789", 18, 59),
                fill(URLSAFE, 68, 60)
            ),
        ),
        fake(
            "Telegram bot",
            format!("{}:AA{}", fill("0123456789", 10, 61), fill(URLSAFE, 33, 62)),
        ),
        fake("Stripe live", format!("sk_live_{}", fill(ALNUM, 99, 63))),
        fake("Stripe restricted", format!("rk_live_{}", fill(ALNUM, 99, 64))),
        fake("Stripe webhook", format!("whsec_{}", fill(ALNUM, 32, 65))),
        fake("Twilio API key", format!("SK{}", fill(HEX, 32, 66))),
        in_context("Twilio auth token", "TWILIO_AUTH_TOKEN=", fill(HEX, 32, 67), ""),
        fake(
            "SendGrid",
            format!("SG.{}.{}", fill(URLSAFE, 22, 68), fill(URLSAFE, 43, 69)),
        ),
        fake("Mailgun", format!("key-{}", fill(HEX, 32, 70))),
        fake("npm", format!("npm_{}", fill(ALNUM, 36, 71))),
        fake("PyPI", format!("pypi-AgEIcHlwaS5vcmc{}", fill(URLSAFE, 70, 72))),
        fake("Shopify", format!("shpat_{}", fill(HEX, 32, 73))),
        fake("DigitalOcean", format!("dop_v1_{}", fill(HEX, 64, 74))),
        fake("Doppler", format!("dp.pt.{}", fill(ALNUM, 43, 75))),
        fake("Linear", format!("lin_api_{}", fill(ALNUM, 40, 76))),
        fake(
            "Postman",
            format!("PMAK-{}-{}", fill(HEX, 24, 77), fill(HEX, 34, 78)),
        ),
        fake(
            "age",
            format!("AGE-SECRET-KEY-1{}", fill(UPPER_ALNUM, 58, 79)),
        ),
        fake(
            "PEM private key",
            format!("-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----"),
        ),
        fake(
            "PEM key, PKCS#8",
            format!("-----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----\n"),
        ),
        in_context(
            "Postgres URL",
            "DATABASE_URL=postgres://app_user:",
            format!("{}!x", fill(ALNUM, 16, 80)),
            "@db.internal:5432/app",
        ),
        in_context(
            "MongoDB URL",
            "mongodb+srv://admin:",
            fill(ALNUM, 20, 81),
            "@cluster0.mongodb.net/?retryWrites=true",
        ),
        in_context(
            "Redis URL",
            "redis://default:",
            fill(ALNUM, 24, 82),
            "@cache.internal:6379",
        ),
        in_context(
            "basic-auth URL",
            "https://deploy:",
            fill(ALNUM, 14, 83),
            "@registry.example.com/v2/",
        ),
        in_context("password assignment", "password=", format!("hunter{}", fill("0123456789", 4, 84)), "&user=x"),
        in_context("password in YAML", "  password: ", format!("S3cr3t-{}", fill(ALNUM, 8, 85)), "\n"),
        in_context("Datadog", "DD_API_KEY=", fill(HEX, 32, 86), ""),
        in_context("Datadog app key", "datadog_app_key: ", fill(HEX, 40, 87), ""),
        in_context(
            "Sentry DSN",
            "https://",
            fill(HEX, 32, 88),
            "@o123456.ingest.sentry.io/4504",
        ),
        fake(
            "JWT",
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
                fill(URLSAFE, 60, 89),
                fill(URLSAFE, 43, 90)
            ),
        ),
        in_context("bearer in text", "curl -H 'Authorization: Bearer ", fill(URLSAFE, 40, 91), "'"),
        in_context(
            "basic auth header",
            "Authorization: Basic ",
            format!("{}==", fill(B64, 30, 92)),
            "",
        ),
        in_context("generic client secret", "client_secret=", fill(URLSAFE, 32, 93), "&grant_type=x"),
        in_context("generic auth token", "AUTH_TOKEN: ", fill(ALNUM, 40, 94), ""),
    ]
}
