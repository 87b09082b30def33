using RlhfActors.Training.Http;

namespace RlhfActors.Tests.Http;

public sealed class SecretsTests
{
    const string Key = "sk-SECRET-0123456789abcdef";

    [Theory]
    [InlineData("invalid key " + Key + " for model m", "invalid key *** for model m")]
    [InlineData("Authorization: Bearer " + Key + "\nHost: h", "Authorization: ***\nHost: h")]
    [InlineData("{\"authorization\": \"Bearer " + Key + "\", \"host\": \"h\"}", "{\"authorization\": \"***\", \"host\": \"h\"}")]
    [InlineData("headers=[bearer " + Key + "]", "headers=[bearer ***]")]
    [InlineData("x-api-key: " + Key, "x-api-key: ***")]
    [InlineData("GET /v1?api_key=" + Key + "&model=m", "GET /v1?api_key=***&model=m")]
    public void The_key_and_credential_patterns_are_masked(string text, string expected) =>
        Assert.Equal(expected, Secrets.Redact(text, Key));

    [Theory]
    [InlineData("Authorization: Bearer other-token.with/chars+=", "Authorization: ***")]
    [InlineData("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: ***")]
    [InlineData("echo: Bearer eyJhbGciOi.eyJzdWIi.c2ln", "echo: Bearer ***")]
    public void A_credential_not_in_the_list_is_masked_by_its_pattern(string text, string expected) =>
        Assert.Equal(expected, Secrets.Redact(text));

    [Theory]
    [InlineData("judge.api_key_env names the environment variable 'K', which is not set")]
    [InlineData("a basic answer; the bearer of bad news.")]
    [InlineData("reward server http://127.0.0.1:9/score answered 400 Bad Request: bad field 'completions'")]
    public void Ordinary_text_is_left_alone(string text) => Assert.Equal(text, Secrets.Redact(text, null, ""));

    [Fact]
    public void A_secret_containing_another_is_masked_whole() =>
        Assert.Equal("*** and ***", Secrets.Redact("abc-long and abc", "abc", "abc-long"));
}
