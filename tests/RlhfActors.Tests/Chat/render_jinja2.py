"""Renders chat templates with Python's jinja2 exactly as transformers' apply_chat_template sets it up
(transformers/utils/chat_template_utils.py, _compile_jinja_template): an ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, the loopcontrols extension, a tojson filter that keeps non-ASCII text, and the
raise_exception and strftime_now globals. The independent reference of ChatTemplateParityTests.

stdin: {"template": str, "now": "YYYY-MM-DDTHH:MM:SS", "contexts": [{...variables...}, ...]}
stdout: [{"text": str} | {"error": str}, ...], one per context."""
import json
import sys
from datetime import datetime

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

request = json.load(sys.stdin)
now = datetime.fromisoformat(request["now"])


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return now.strftime(format)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now
template = env.from_string(request["template"])

results = []
for context in request["contexts"]:
    try:
        results.append({"text": template.render(**context)})
    except Exception as e:  # the template's own refusal, or a type error in it
        results.append({"error": f"{type(e).__name__}: {e}"})
json.dump(results, sys.stdout, ensure_ascii=False)
