using System.Text.Json;
using Firedrill.Lab.Load;
using Firedrill.Lab.Tests.Load;
using Firedrill.Lab.Tests.Support;

namespace Firedrill.Lab.Tests.Cli;

/// <summary><c>firedrill load</c> as a process, against the load tests' local server.</summary>
[Collection(LoadServerGroup.Name)]
public sealed class LoadCommandTests(LoadTestServer server)
{
    [Fact]
    public async Task Load_OpenModelWithWarmupAndJson_WritesOnlyTheMeasuredRequests()
    {
        var folder = LabDefaults.TempFolder();
        var json = Path.Combine(folder, "result.json");
        var run = Guid.NewGuid().ToString("N");

        var (exitCode, output) = await LabCli.RunAsync(folder, "load", "--url", server.Address.ToString(), "--path", $"/count?run={run}",
            "--rate", "100", "--duration", "2", "--warmup", "1", "--json", json);

        Assert.True(exitCode == 0, output);
        await using var stream = File.OpenRead(json);
        var result = await JsonSerializer.DeserializeAsync<LoadResult>(stream, JsonSerializerOptions.Web);
        Assert.NotNull(result);
        // 2 s at 100/s recorded; the warm-up's 100 were sent too, but are not in the result.
        Assert.InRange(result.Requests, 170, 230);
        Assert.Equal(result.Requests, result.Total.Outcomes["200"]);
        Assert.InRange(server.Count(run), result.Requests + 70, result.Requests + 130);
    }

    [Theory]
    [InlineData("not-a-url", "--url 'not-a-url' is not an absolute http(s) address")]
    [InlineData("ftp://127.0.0.1:21", "is not an absolute http(s) address")]
    public async Task Load_BadUrl_OneLineNamingTheFlag(string url, string message)
    {
        var (exitCode, output) = await LabCli.RunAsync(LabDefaults.TempFolder(), "load", "--url", url, "--path", "/fast", "--rate", "10");

        Assert.Equal(1, exitCode);
        Assert.Contains(message, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_JsonInAMissingFolder_RefusedBeforeAnyLoad()
    {
        var folder = LabDefaults.TempFolder();
        var run = Guid.NewGuid().ToString("N");

        var (exitCode, output) = await LabCli.RunAsync(folder, "load", "--url", server.Address.ToString(), "--path", $"/count?run={run}",
            "--rate", "10", "--duration", "1", "--json", Path.Combine(folder, "missing", "result.json"));

        Assert.Equal(1, exitCode);
        Assert.Contains("--json: the folder", output, StringComparison.Ordinal);
        Assert.Equal(0, server.Count(run));
    }
}
