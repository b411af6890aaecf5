using Firedrill.Lab.Load;

namespace Firedrill.Lab.Tests.Load;

public sealed class LoadValidationTests
{
    private static readonly RequestTemplate Fast = new("fast", 1, _ => new HttpRequestMessage(HttpMethod.Get, new Uri("/fast", UriKind.Relative)));

    private static readonly LoadProfile Valid = new() { RatePerSecond = 10, Duration = TimeSpan.FromSeconds(1), Mix = [Fast] };

    public static TheoryData<string, LoadProfile> InvalidProfiles => new()
    {
        { "RatePerSecond", Valid with { RatePerSecond = 0 } },
        { "RatePerSecond", Valid with { RatePerSecond = double.NaN } },
        { "Concurrency", Valid with { Model = LoadModel.Closed, Concurrency = 0 } },
        { "Pacing", Valid with { Pacing = TimeSpan.FromSeconds(1) } },
        { "Pacing", Valid with { Model = LoadModel.Closed, Pacing = TimeSpan.Zero } },
        { "Duration", Valid with { Duration = TimeSpan.Zero } },
        { "MaxRequests", Valid with { MaxRequests = 0 } },
        { "RequestTimeout", Valid with { RequestTimeout = TimeSpan.Zero } },
        { "MaxInFlight", Valid with { MaxInFlight = 0 } },
        { "Mix", Valid with { Mix = [] } },
        { "Weight", Valid with { Mix = [Fast with { Weight = 0 }] } },
        { "Name", Valid with { Mix = [Fast, Fast] } },
    };

    [Theory]
    [MemberData(nameof(InvalidProfiles))]
    public async Task RunAsync_InvalidProfile_ThrowsArgumentExceptionNamingTheField(string field, LoadProfile profile)
    {
        using var http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:9/") };
        var generator = new LoadGenerator(http, TimeProvider.System);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => generator.RunAsync(profile, null, CancellationToken.None));

        Assert.Contains(field, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Validate_ClosedModelWithoutRate_IsValid() =>
        (Valid with { Model = LoadModel.Closed, RatePerSecond = 0, Concurrency = 3 }).Validate();

    [Theory]
    [InlineData("http://example.com/")]
    [InlineData("http://10.0.0.1:5000/")]
    [InlineData("http://192.168.1.20/")]
    [InlineData("http://[2001:db8::1]/")]
    [InlineData("http://localhost.example.com/")]
    [InlineData("ftp://127.0.0.1/")]
    public void Ctor_NonLoopbackBaseAddress_ThrowsArgumentException(string address)
    {
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        var error = Assert.Throws<ArgumentException>(() => new LoadGenerator(http, TimeProvider.System));

        Assert.Contains("loopback", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ctor_ClientWithoutBaseAddress_ThrowsArgumentException()
    {
        using var http = new HttpClient();

        Assert.Throws<ArgumentException>(() => new LoadGenerator(http, TimeProvider.System));
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/")]
    [InlineData("http://127.10.20.30/")]
    [InlineData("http://[::1]:8080/")]
    [InlineData("https://localhost/")]
    [InlineData("http://LOCALHOST:81/")]
    public void Ctor_LoopbackBaseAddress_IsAccepted(string address)
    {
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        _ = new LoadGenerator(http, TimeProvider.System);
    }

    [Fact]
    public void Pick_SameSeed_IsReproducibleAndDifferentSeedsDiffer()
    {
        RequestTemplate[] mix = [Fast, Fast with { Name = "other" }];

        var first = Enumerable.Range(0, 200).Select(i => new RequestMix(mix, 7).Pick(i)).ToArray();
        var again = Enumerable.Range(0, 200).Select(i => new RequestMix(mix, 7).Pick(i)).ToArray();
        var other = Enumerable.Range(0, 200).Select(i => new RequestMix(mix, 8).Pick(i)).ToArray();

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }
}
