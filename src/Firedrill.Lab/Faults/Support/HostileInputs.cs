using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Firedrill.Lab.Faults.Support;

/// <summary>One malformed or hostile request, as bytes to put on the wire.</summary>
internal sealed record HostileRequest(string Operation, string Label, string Method, string Path, IReadOnlyList<string> Headers, byte[]? Body);

/// <summary>
/// Malformed and hostile requests for every operation of an OpenAPI document, each invalid under
/// the document's own schema or the protocol: wrong types, missing fields, huge numbers and
/// strings, broken JSON, unknown and duplicated fields, deep nesting, wrong content types,
/// oversized headers and bodies, unknown methods. Values a schema allows are never sent: a search
/// for "abc" is a search, not an attack.
/// </summary>
internal static class HostileInputs
{
    private static readonly string[] OtherMethods = ["PATCH", "DELETE", "TRACE", "FOO"];

    private static readonly string[] IntegerValues =
    [
        "abc", "1.5", "99999999999999999999999", "1e3", "NaN", "-1", "0", "%00", "..%2F..%2Fetc%2Fpasswd", "'%20OR%201=1--",
        "%C0%AF", "%EF%BC%91", new string('9', 3000),
    ];

    /// <param name="prefix">"/api" through the gateway, "" straight at a replica.</param>
    /// <param name="headerLimit">The target's header limit: the oversized header goes past it.</param>
    public static IReadOnlyList<HostileRequest> From(JsonElement openApi, string prefix, int headerLimit)
    {
        var schemas = openApi.TryGetProperty("components", out var components) && components.TryGetProperty("schemas", out var all) ? all : default;
        var requests = new List<HostileRequest>();
        foreach (var path in openApi.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var method = operation.Name.ToUpperInvariant();
                var name = $"{method} {path.Name}";
                var parameters = operation.Value.TryGetProperty("parameters", out var list) ? list.EnumerateArray().ToList() : [];
                var headers = method == "POST" && path.Name == "/payments" ? new List<string> { $"Idempotency-Key: {Guid.NewGuid():N}" } : [];
                var body = operation.Value.TryGetProperty("requestBody", out var requestBody)
                    ? requestBody.GetProperty("content").GetProperty("application/json").GetProperty("schema")
                    : (JsonElement?)null;
                var baseBody = body is { } schema ? Example(schema, schemas) : null;
                string Url(string template, string? query = null) => prefix + Fill(template, parameters) + (query is null ? "" : "?" + query);
                void Add(string label, string url, IEnumerable<string>? extra = null, byte[]? content = null, bool json = true) => requests.Add(new HostileRequest(
                    name, label, method, url, [.. headers, .. extra ?? [], .. content is not null && json ? ["Content-Type: application/json"] : Array.Empty<string>()],
                    content ?? (baseBody is not null ? Encoding.UTF8.GetBytes(baseBody.ToJsonString()) : null)));

                foreach (var parameter in parameters)
                {
                    var (parameterName, where) = (parameter.GetProperty("name").GetString()!, parameter.GetProperty("in").GetString());
                    var isInteger = parameter.TryGetProperty("schema", out var type) && TypeOf(type, schemas) == "integer";
                    var values = isInteger ? IntegerValues : [new string('a', 10_000)];
                    foreach (var value in values)
                    {
                        var label = $"{parameterName} = {Shorten(value)}";
                        Add(label, where == "path" ? prefix + Fill(path.Name, parameters, parameterName, value) : Url(path.Name, $"{parameterName}={value}"));
                    }
                }

                foreach (var other in OtherMethods.Where(m => !path.Value.TryGetProperty(m.ToLowerInvariant(), out _)))
                {
                    requests.Add(new HostileRequest(name, $"method {other}", other, Url(path.Name), [], null));
                }

                Add($"a header of {headerLimit / 1024 + 8} KB", Url(path.Name), [$"Cookie: session={new string('a', headerLimit + 8 * 1024)}"]);
                Add("120 headers", Url(path.Name), Enumerable.Range(0, 120).Select(i => $"X-Filler-{i}: {i}"));
                if (baseBody is not null)
                {
                    foreach (var (label, content, json) in Bodies(baseBody))
                    {
                        Add(label, Url(path.Name), content: content, json: json);
                    }

                    Add("Content-Type: text/plain", Url(path.Name), ["Content-Type: text/plain"], Encoding.UTF8.GetBytes(baseBody.ToJsonString()), json: false);
                    Add("no Content-Type", Url(path.Name), content: Encoding.UTF8.GetBytes(baseBody.ToJsonString()), json: false);
                    Add("chunked framing broken", Url(path.Name), ["Transfer-Encoding: chunked"], Encoding.ASCII.GetBytes("zz\r\n{}\r\n0\r\n\r\n"));
                }

                if (headers.Count > 0)
                {
                    foreach (var (label, key) in new[] { ("an empty Idempotency-Key", ""), ("a 300-character Idempotency-Key", new string('k', 300)), ("a non-ASCII Idempotency-Key", "clé-é"), ("a control character in the Idempotency-Key", "key\u0001") })
                    {
                        requests.Add(new HostileRequest(name, label, method, Url(path.Name), [$"Idempotency-Key: {key}", "Content-Type: application/json"],
                            Encoding.UTF8.GetBytes(baseBody!.ToJsonString())));
                    }
                }
            }
        }

        return requests;
    }

    /// <summary>The body's mutations: each field wrong in every way, then the whole document.</summary>
    private static IEnumerable<(string Label, byte[] Body, bool Json)> Bodies(JsonNode baseBody)
    {
        foreach (var field in Fields(baseBody))
        {
            foreach (var (label, value) in FieldValues())
            {
                var copy = baseBody.DeepClone();
                Set(copy, field, value);
                yield return ($"{field} {label}", Encoding.UTF8.GetBytes(copy.ToJsonString()), true);
            }

            var missing = baseBody.DeepClone();
            Remove(missing, field);
            yield return ($"{field} missing", Encoding.UTF8.GetBytes(missing.ToJsonString()), true);
        }

        var unknown = baseBody.DeepClone();
        unknown["isAdmin"] = true;
        yield return ("an unknown field (isAdmin: true)", Encoding.UTF8.GetBytes(unknown.ToJsonString()), true);
        var text = baseBody.ToJsonString();
        var first = baseBody.AsObject().First();
        yield return ($"{first.Key} twice", Encoding.UTF8.GetBytes(text.Insert(1, $"\"{first.Key}\": {first.Value?.ToJsonString() ?? "null"}, ")), true);
        foreach (var (label, raw) in new[]
        {
            ("truncated JSON", text[..(text.Length / 2)]), ("an open brace", "{"), ("single quotes", "{'a': 1}"), ("a trailing comma", text.Insert(text.Length - 1, ",")),
            ("a comment", "/* x */" + text), ("NaN", "{\"a\": NaN}"), ("an array", "[]"), ("a string", "\"text\""), ("a number", "42"), ("null", "null"), ("empty", ""),
            ("10,000 levels deep", new string('[', 10_000) + new string(']', 10_000)),
        })
        {
            yield return (label, Encoding.UTF8.GetBytes(raw), true);
        }

        yield return ("invalid UTF-8", [0xFF, 0xFE, 0xFD, (byte)'{', (byte)'}'], true);
        yield return ("2 MB", Encoding.UTF8.GetBytes("{\"a\": \"" + new string('x', 2 * 1024 * 1024) + "\"}"), true);
    }

    private static IEnumerable<(string Label, JsonNode? Value)> FieldValues() =>
    [
        ("as text", JsonValue.Create("abc")), ("as an object", new JsonObject()), ("as an array", new JsonArray()), ("as true", JsonValue.Create(true)),
        ("null", null), ("-1", JsonValue.Create(-1)), ("a 400-digit number", JsonNode.Parse("1" + new string('0', 400))), ("1e309", JsonNode.Parse("1e309")),
        ("a 64 KB string", JsonValue.Create(new string('a', 64 * 1024))),
    ];

    /// <summary>Paths of the fields: top-level ones, and those of an array's first element (lines[0].quantity).</summary>
    private static IEnumerable<string> Fields(JsonNode body)
    {
        foreach (var (key, value) in body.AsObject())
        {
            yield return key;
            if (value is JsonArray { Count: > 0 } array && array[0] is JsonObject element)
            {
                foreach (var (inner, _) in element)
                {
                    yield return $"{key}[0].{inner}";
                }
            }
        }
    }

    private static (JsonObject Parent, string Key) Locate(JsonNode body, string field)
    {
        var dot = field.IndexOf("[0].", StringComparison.Ordinal);
        return dot < 0 ? (body.AsObject(), field) : (body[field[..dot]]![0]!.AsObject(), field[(dot + 4)..]);
    }

    private static void Set(JsonNode body, string field, JsonNode? value)
    {
        var (parent, key) = Locate(body, field);
        parent[key] = value;
    }

    private static void Remove(JsonNode body, string field)
    {
        var (parent, key) = Locate(body, field);
        parent.Remove(key);
    }

    /// <summary>A plausible instance of the schema: the base every mutation changes one thing of.</summary>
    private static JsonNode? Example(JsonElement schema, JsonElement schemas, int depth = 0)
    {
        schema = Resolve(schema, schemas);
        return TypeOf(schema, schemas) switch
        {
            "object" when depth < 4 && schema.TryGetProperty("properties", out var properties) =>
                new JsonObject(properties.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, Example(p.Value, schemas, depth + 1)))),
            "array" when schema.TryGetProperty("items", out var items) => new JsonArray(Example(items, schemas, depth + 1)),
            "integer" => JsonValue.Create(1),
            "number" => JsonValue.Create(1.5m),
            "boolean" => JsonValue.Create(true),
            "string" => JsonValue.Create("EUR"),
            _ => new JsonObject(),
        };
    }

    private static string TypeOf(JsonElement schema, JsonElement schemas)
    {
        schema = Resolve(schema, schemas);
        if (!schema.TryGetProperty("type", out var type))
        {
            return schema.TryGetProperty("properties", out _) ? "object" : "string";
        }

        return type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().Select(t => t.GetString()!).Where(t => t != "null").OrderBy(t => t == "string" ? 1 : 0).First()
            : type.GetString()!;
    }

    private static JsonElement Resolve(JsonElement schema, JsonElement schemas) =>
        schema.TryGetProperty("$ref", out var reference) && schemas.ValueKind == JsonValueKind.Object
            ? schemas.GetProperty(reference.GetString()!.Split('/')[^1])
            : schema;

    /// <summary>The path with every parameter a valid value, except <paramref name="hostile"/>.</summary>
    private static string Fill(string template, IEnumerable<JsonElement> parameters, string? hostile = null, string? value = null)
    {
        foreach (var parameter in parameters.Where(p => p.GetProperty("in").GetString() == "path"))
        {
            var name = parameter.GetProperty("name").GetString()!;
            template = template.Replace("{" + name + "}", name == hostile ? value : "1", StringComparison.Ordinal);
        }

        return template;
    }

    private static string Shorten(string value) => value.Length > 40 ? string.Create(CultureInfo.InvariantCulture, $"{value[..12]}… ({value.Length} characters)") : value;
}
