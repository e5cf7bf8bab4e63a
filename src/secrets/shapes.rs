//! The catalogue of credential shapes: what each provider's, cloud's and service's
//! secrets look like in text.
//!
//! Each shape is a regular expression, a name (for `aimock check`'s message and the
//! recorder's warning), and a rule for what must hold of the value once found. A shape
//! with a `secret` capture group redacts only that group (the password of a database
//! URL, the value after `AccountKey=`), one without redacts the whole match.
//!
//! Shapes are written to be anchored on something prose and code rarely contain: a
//! vendor prefix (`gsk_`, `hf_`, `pcsk_`), a fixed structure (JWTs, PEM blocks, Slack
//! webhook URLs), or, for vendors whose keys have no prefix (Cohere, Mistral, Azure,
//! Datadog), the vendor's name or a secret-like word right before the value. Opaque
//! blobs that are not credentials (thinking signatures, encrypted reasoning, ids) have
//! none of these, which is what keeps recordings of them intact.
//!
//! Not here: field names (a JSON key such as `password` makes its value a secret whatever
//! it looks like; see [`super::field_rule`]) and the matching itself.

/// What must hold of a found value before it counts (beyond the pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The pattern is specific enough.
    Any,
    /// The value mixes letters and digits (or is long and mixed-case): a key, not a word.
    TokenLike,
    /// A password under a password-like field name: any value that is not a
    /// placeholder or a reference to one.
    Password,
    /// A password written after `password:` in text: as [`Check::Password`], and also
    /// not a lone short word (`Password: required` in a form's description).
    PasswordText,
}

/// One credential shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// What it is, as a noun phrase ("an OpenAI API key").
    pub name: &'static str,
    /// The pattern; a `secret` group, when present, is the part redacted.
    pub pattern: &'static str,
    /// The check applied to the found value.
    pub check: Check,
}

const fn shape(name: &'static str, pattern: &'static str) -> Shape {
    Shape {
        name,
        pattern,
        check: Check::Any,
    }
}

const fn checked(name: &'static str, pattern: &'static str, check: Check) -> Shape {
    Shape {
        name,
        pattern,
        check,
    }
}

/// Every built-in shape. Order matters only for naming: when two shapes find the same
/// value, the first one's name is reported (so Anthropic's `sk-ant-` precedes OpenAI's
/// `sk-`).
pub(crate) const SHAPES: &[Shape] = &[
    // --- AI providers -----------------------------------------------------------------
    shape(
        "an Anthropic API key",
        r"\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{16,}",
    ),
    shape("an OpenRouter API key", r"\bsk-or-v1-[0-9a-f]{32,}"),
    shape(
        "an OpenAI API key",
        r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}",
    ),
    shape("a Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    shape(
        "a Google OAuth access token",
        r"\bya29\.[0-9A-Za-z_\-]{20,}",
    ),
    shape("a Google OAuth refresh token", r"\b1//0[0-9A-Za-z_\-]{40,}"),
    shape(
        "a Google OAuth client secret",
        r"\bGOCSPX-[0-9A-Za-z_\-]{24,}",
    ),
    shape("a Groq API key", r"\bgsk_[A-Za-z0-9]{40,}"),
    shape("an xAI API key", r"\bxai-[A-Za-z0-9]{60,}"),
    shape("a Hugging Face token", r"\b(?:hf|api_org)_[A-Za-z0-9]{30,}"),
    shape("a Replicate API token", r"\br8_[A-Za-z0-9]{30,}"),
    shape("a Perplexity API key", r"\bpplx-[A-Za-z0-9]{40,}"),
    shape("a Together AI API key", r"\btgp_v1_[A-Za-z0-9_\-]{30,}"),
    shape(
        "a Tavily API key",
        r"\btvly-(?:dev-|prod-)?[A-Za-z0-9]{24,}",
    ),
    shape("a Pinecone API key", r"\bpcsk_[A-Za-z0-9_]{40,}"),
    shape("a Fireworks AI API key", r"\bfw_[A-Za-z0-9]{20,}"),
    shape("an ElevenLabs API key", r"\bsk_[0-9a-f]{40,}"),
    shape(
        "a LangSmith API key",
        r"\blsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{8,}",
    ),
    shape("a Voyage AI API key", r"\bpa-[A-Za-z0-9_\-]{40,}"),
    shape("an Anyscale API key", r"\besecret_[A-Za-z0-9]{20,}"),
    checked(
        "a Cohere API key",
        r"(?i:\bco(?:here)?[_\-\s]?(?:api[_\-\s]?)?(?:key|token)\b)[\x22'\\\s:=]{1,8}(?P<secret>[A-Za-z0-9]{40})\b",
        Check::TokenLike,
    ),
    checked(
        "a Mistral API key",
        r"(?i:\bmistral[_\-\s]?(?:api[_\-\s]?)?(?:key|token)\b)[\x22'\\\s:=]{1,8}(?P<secret>[A-Za-z0-9]{32})\b",
        Check::TokenLike,
    ),
    checked(
        "a Together AI API key",
        r"(?i:\btogether[_\-\s]?(?:ai[_\-\s]?)?(?:api[_\-\s]?)?key\b)[\x22'\\\s:=]{1,8}(?P<secret>[0-9a-f]{64})\b",
        Check::Any,
    ),
    checked(
        "a Pinecone API key",
        r"(?i:\bpinecone[_\-\s]?(?:api[_\-\s]?)?key\b)[\x22'\\\s:=]{1,8}(?P<secret>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
        Check::Any,
    ),
    // --- Clouds -----------------------------------------------------------------------
    shape(
        "an AWS access key id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[0-9A-Z]{16}\b",
    ),
    checked(
        "an AWS secret access key",
        r"(?i:secret[_\-\s]?access[_\-\s]?key|aws[_\-\s]?secret(?:[_\-\s]?key)?)[\x22'\\\s:=]{1,8}(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        Check::TokenLike,
    ),
    shape(
        "an AWS session token",
        r"\b(?:FwoGZXIvYXdz|FQoGZXIvYXdz|IQoJb3JpZ2lu|IQoDYXdz)[A-Za-z0-9/+=]{40,}",
    ),
    checked(
        "an AWS session token",
        r"(?i:session[_\-\s]?token|security[_\-\s]?token)[\x22'\\\s:=]{1,8}(?P<secret>[A-Za-z0-9/+=]{100,})",
        Check::Any,
    ),
    shape(
        "an Azure storage or service connection key",
        r"(?i:AccountKey|SharedAccessKey|SharedAccessSignature|PrimaryKey|SecondaryKey)=(?P<secret>[A-Za-z0-9+/=%]{20,})",
    ),
    checked(
        "an Azure API key",
        r"(?i:\bazure[_\-\s]?(?:openai[_\-\s]?|ai[_\-\s]?|cognitive[_\-\s]?|search[_\-\s]?)?(?:api[_\-\s]?)?key\b)[\x22'\\\s:=]{1,8}(?P<secret>[0-9a-f]{32}|[A-Za-z0-9]{84})\b",
        Check::Any,
    ),
    shape(
        "an Azure AD client secret",
        r"\b[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}",
    ),
    shape("a DigitalOcean token", r"\bdo[opr]_v1_[0-9a-f]{64}"),
    shape("a Supabase token", r"\bsbp_[0-9a-f]{40}"),
    checked(
        "a Cloudflare API token",
        r"(?i:\bcloudflare[_\-\s]?(?:api[_\-\s]?)?(?:token|key)\b)[\x22'\\\s:=]{1,8}(?P<secret>[A-Za-z0-9_\-]{37,40})\b",
        Check::TokenLike,
    ),
    // --- Source hosts, CI, package registries -----------------------------------------
    shape(
        "a GitHub fine-grained token",
        r"\bgithub_pat_[A-Za-z0-9_]{60,}",
    ),
    shape("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    shape(
        "a GitLab token",
        r"\bgl(?:pat|dt|rt|ptt|ft|soat|imt|agent|oas|cbt)-[A-Za-z0-9_\-]{20,}",
    ),
    shape("a Bitbucket app password", r"\bATBB[A-Za-z0-9_=.\-]{28,}"),
    shape("an Atlassian API token", r"\bATATT3[A-Za-z0-9_\-=]{100,}"),
    shape("an npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    shape("a PyPI token", r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),
    shape(
        "a Doppler token",
        r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}",
    ),
    shape("a Postman API key", r"\bPMAK-[0-9a-f]{24}-[0-9a-f]{34}"),
    shape("a Linear API key", r"\blin_(?:api|oauth)_[A-Za-z0-9]{40}"),
    shape(
        "a Notion token",
        r"\b(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,})",
    ),
    shape("an age secret key", r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}"),
    // --- Messaging, payments, observability -------------------------------------------
    shape("a Slack token", r"\bxox[abposre]-[A-Za-z0-9\-]{10,}"),
    shape(
        "a Slack app token",
        r"\bxapp-\d-[A-Z0-9]+-\d+-[a-f0-9]{20,}",
    ),
    shape(
        "a Slack webhook URL",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,}",
    ),
    shape(
        "a Discord webhook URL",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{20,}",
    ),
    shape("a Telegram bot token", r"\b\d{8,10}:AA[0-9A-Za-z_\-]{33}"),
    shape(
        "a Stripe secret key",
        r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}",
    ),
    shape("a Stripe webhook secret", r"\bwhsec_[A-Za-z0-9]{24,}"),
    shape(
        "a Square token",
        r"\b(?:sq0atp|sq0csp|EAAA)[A-Za-z0-9_\-]{22,}",
    ),
    shape("a Shopify token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    shape("a Twilio API key", r"\bSK[0-9a-f]{32}\b"),
    checked(
        "a Twilio auth token",
        r"(?i:\btwilio[_\-\s]?(?:auth[_\-\s]?)?token\b|\bauth[_\-\s]?token\b)[\x22'\\\s:=]{1,8}(?P<secret>[0-9a-f]{32})\b",
        Check::Any,
    ),
    shape(
        "a SendGrid API key",
        r"\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,50}",
    ),
    shape("a Mailgun API key", r"\bkey-[0-9a-f]{32}\b"),
    shape("a Mailchimp API key", r"\b[0-9a-f]{32}-us\d{1,2}\b"),
    checked(
        "a Datadog API or application key",
        r"(?i:\b(?:dd|datadog)[_\-\s]?(?:api|app(?:lication)?)[_\-\s]?key\b)[\x22'\\\s:=]{1,8}(?P<secret>[0-9a-f]{32}|[0-9a-f]{40})\b",
        Check::Any,
    ),
    shape(
        "a Sentry DSN",
        r"https?://(?P<secret>[0-9a-f]{32})(?::[0-9a-f]{32})?@[A-Za-z0-9.\-]+(?::\d+)?/\d+",
    ),
    shape("a Sentry auth token", r"\bsntry[su]_[A-Za-z0-9_=\-]{40,}"),
    shape("a New Relic key", r"\bNRAK-[A-Z0-9]{27}\b"),
    shape("a Grafana token", r"\bglsa_[A-Za-z0-9]{32}_[0-9a-f]{8}"),
    // --- Generic structures -----------------------------------------------------------
    shape(
        "a private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)",
    ),
    shape(
        "a JSON Web Token",
        r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    ),
    shape(
        "a bearer token",
        r"(?i:\bbearer)\s+(?P<secret>[A-Za-z0-9._~+/\-]{16,}=*)",
    ),
    checked(
        "a basic-auth credential",
        r"(?i:\bbasic)\s+(?P<secret>[A-Za-z0-9+/]{12,}={0,2})(?:[^A-Za-z0-9+/=]|$)",
        Check::TokenLike,
    ),
    checked(
        "a password in a URL",
        r"\b[a-z][a-z0-9+.\-]{1,20}://[^\s:/@\x22'<>]{1,128}:(?P<secret>[^\s@/\x22'<>\\]{1,256})@[A-Za-z0-9.\-\[\]]+",
        Check::Any,
    ),
    checked(
        "a password",
        r"(?i:\b(?:password|passwd|passphrase|pwd)\b)(?:\\?[\x22'])?\s{0,3}[:=]\s{0,3}(?:\\?[\x22'])?(?P<secret>[^\s\x22'`,;&<>(){}\[\]\\]{4,})",
        Check::PasswordText,
    ),
    checked(
        "a secret assigned to a credential-like name",
        r"(?i:\b[a-z0-9_\-]*(?:api[_\-]?key|apikey|secret[_\-]?key|client[_\-]?secret|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|private[_\-]?key|secret|token|credential)s?\b)(?:\\?[\x22'])?\s{0,3}[:=]\s{0,3}(?:\\?[\x22'])?(?P<secret>[A-Za-z0-9_\-+/.=~]{12,256})",
        Check::TokenLike,
    ),
];
