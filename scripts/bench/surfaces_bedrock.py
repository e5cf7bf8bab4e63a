"""Benchmark rows for Bedrock's invoke model families (see surfaces.py for the row
format).

- Titan text `invoke`: the `inputText` body read into the neutral request and answered
  as `results[].outputText`. The reference reads only the Anthropic Messages body on
  `/model/{id}/invoke` (a body without `messages` gets its 400), so it has no row to
  compare: reference=False.
"""

import json

FIXTURES = [{"match": {"userMessage": "capital of France"}, "response": {"content": "Paris is the capital of France."}}]

ROWS = [
    {
        "name": "Bedrock invoke Titan text",
        "config": None,
        "fixtures": FIXTURES,
        "method": "POST",
        "path": "/model/amazon.titan-text-express-v1/invoke",
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"inputText": "User: what is the capital of France?\nBot:", "textGenerationConfig": {"maxTokenCount": 50}}),
        "prepare": None,
        "expect": '"outputText":"Paris is the capital of France."',
        "reference": False,
    },
]
