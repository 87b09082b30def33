using Jint;
using Jint.Native;
using Jint.Runtime;

namespace RlhfActors.Training.Chat;

/// <summary>
/// Renders Jinja chat templates with Hugging Face's own JavaScript implementation, @huggingface/jinja 0.5.13 (MIT; the
/// renderer of transformers.js, written to match transformers' apply_chat_template: trim_blocks and lstrip_blocks on,
/// loop.*, namespace, the filters and string methods chat templates use, raise_exception), run by the Jint 4.18 engine.
/// Why not a Jinja interpreter written here: no NuGet package renders Jinja, and this one is maintained against the
/// templates of the Hub by the people who write transformers; the tests check its output against Python's jinja2.
/// The vendored file carries one marked patch: strftime_now comes from the host (<see cref="ChatTemplate"/>).
/// One engine per process (loading the library takes about a second); Jint engines are single-threaded, so renders
/// take a lock. Each render is bounded in time and recursion, since a template is data a user brings.
/// </summary>
sealed class JinjaRuntime
{
    static readonly Lazy<JinjaRuntime> Shared = new(() => new JinjaRuntime(), LazyThreadSafetyMode.ExecutionAndPublication);
    readonly Engine _engine;
    readonly Lock _gate = new();

    public static JinjaRuntime Instance => Shared.Value;

    JinjaRuntime()
    {
        _engine = new Engine(options => options.Strict().TimeoutInterval(TimeSpan.FromSeconds(30)).LimitRecursion(512));
        using var stream = typeof(JinjaRuntime).Assembly.GetManifestResourceStream("huggingface-jinja.js")
            ?? throw new InvalidOperationException("the embedded huggingface-jinja.js is missing from the Training assembly");
        using var reader = new StreamReader(stream);
        _engine.Modules.Add("jinja", reader.ReadToEnd());
        _engine.SetValue("jinja", _engine.Modules.Import("jinja"));
        // Parsed templates are kept by source text: a run renders thousands of conversations with one template.
        _engine.Execute("""
            const templates = new Map();
            function renderTemplate(source, contextJson, strftimeNow) {
              let template = templates.get(source);
              if (template === undefined) { template = new jinja.Template(source); templates.set(source, template); }
              globalThis.hostStrftimeNow = strftimeNow;
              return template.render(JSON.parse(contextJson));
            }
            """);
    }

    /// <summary>Renders <paramref name="source"/> with the variables of <paramref name="contextJson"/> (a JSON object).
    /// A syntax error, a raise_exception call or a runaway template throws <see cref="ChatTemplateException"/>.</summary>
    public string Render(string source, string contextJson, Func<string, string> strftimeNow)
    {
        lock (_gate)
        {
            try
            {
                var result = _engine.Invoke("renderTemplate", source, contextJson, JsValue.FromObject(_engine, strftimeNow));
                return result.IsString() ? result.AsString() : throw new ChatTemplateException($"rendered to {result.Type}, not text");
            }
            catch (JavaScriptException e) { throw new ChatTemplateException(e.Error.IsObject() && e.Error.AsObject().Get("message") is { } m && m.IsString() ? m.AsString() : e.Message, e); }
            catch (TimeoutException e) { throw new ChatTemplateException("took longer than 30 s to render", e); }
            catch (RecursionDepthOverflowException e) { throw new ChatTemplateException("recursed too deeply", e); }
        }
    }
}
