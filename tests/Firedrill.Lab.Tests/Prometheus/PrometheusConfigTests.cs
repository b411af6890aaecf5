using System.Text.Json;
using Firedrill.Lab.Prometheus;

namespace Firedrill.Lab.Tests.Prometheus;

public sealed class PrometheusConfigTests
{
    [Fact]
    public void TargetsJson_JobInLabels_RecordJobWins()
    {
        var target = new ScrapeTarget("shop", "127.0.0.1:5081", new Dictionary<string, string> { ["job"] = "other", ["replica"] = "2" });

        using var json = JsonDocument.Parse(PrometheusConfig.TargetsJson([target]));

        var group = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal("127.0.0.1:5081", group.GetProperty("targets")[0].GetString());
        Assert.Equal("shop", group.GetProperty("labels").GetProperty("job").GetString());
        Assert.Equal("2", group.GetProperty("labels").GetProperty("replica").GetString());
    }

    [Theory]
    [InlineData("http://127.0.0.1:5081")]
    [InlineData("127.0.0.1")]
    [InlineData("")]
    public void TargetsJson_AddressNotHostPort_Throws(string address)
    {
        var target = new ScrapeTarget("shop", address, new Dictionary<string, string>());

        var exception = Assert.Throws<ArgumentException>(() => PrometheusConfig.TargetsJson([target]));

        Assert.Contains("host:port", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("replica-id")]
    [InlineData("__address__")]
    [InlineData("1st")]
    public void TargetsJson_InvalidLabelName_Throws(string name)
    {
        var target = new ScrapeTarget("shop", "localhost:5081", new Dictionary<string, string> { [name] = "x" });

        Assert.Throws<ArgumentException>(() => PrometheusConfig.TargetsJson([target]));
    }

    [Fact]
    public async Task WriteTargetsAsync_ExistingFile_ReplacesItWithoutBomOrTemporaryFile()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "targets.json");
        await File.WriteAllTextAsync(file, "[]");

        await PrometheusConfig.WriteTargetsAsync(file, [new ScrapeTarget("shop", "localhost:5081", new Dictionary<string, string>())], CancellationToken.None);

        var bytes = await File.ReadAllBytesAsync(file);
        Assert.Equal((byte)'[', bytes[0]); // no byte-order mark: Prometheus rejects the file for it
        Assert.Contains("localhost:5081", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        Assert.Equal([file], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Yaml_PathWithQuote_IsQuotedForYaml()
    {
        var yaml = PrometheusConfig.Yaml("/tmp/run \"1\"/targets.json");

        Assert.Contains("files: [\"/tmp/run \\u00221\\u0022/targets.json\"]", yaml, StringComparison.Ordinal);
        Assert.Contains("scrape_interval: 1s", yaml, StringComparison.Ordinal);
        Assert.Contains("refresh_interval: 1s", yaml, StringComparison.Ordinal);
    }
}
