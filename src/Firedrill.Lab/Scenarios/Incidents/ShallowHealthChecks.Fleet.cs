using System.Globalization;
using Firedrill.Lab.Fleet;
using Firedrill.Lab.Load;

namespace Firedrill.Lab.Scenarios.Incidents;

/// <summary>The faults on the fleet (the database blip), waiting for the replicas, and the evidence.</summary>
internal sealed partial class ShallowHealthChecks
{
    /// <summary>When the blip's database cut began and when it was restored, in seconds since the load began; and the cut's wall-clock time.</summary>
    private sealed record BlipTimes(double Began, double Restored, DateTimeOffset At);

    /// <summary>The shared database goes away for every replica for a few seconds, then comes back.</summary>
    private static async Task<BlipTimes?> BlipAsync(ScenarioContext context, DateTimeOffset loadStart, CancellationToken cancellationToken)
    {
        var identities = context.Fleet.Identities!;
        var names = Enumerable.Range(1, Replicas).Select(i => $"shop-{i}").ToList();
        await Task.Delay(BlipStart, context.Time, cancellationToken);
        var began = context.Time.GetUtcNow();
        try
        {
            await Task.WhenAll(names.Select(name => identities.CutDatabaseAsync(name, cancellationToken)));
            await Task.Delay(BlipLength, context.Time, cancellationToken);
        }
        finally
        {
            await Task.WhenAll(names.Select(name => identities.RestoreDatabaseAsync(name, CancellationToken.None)));
        }

        return new BlipTimes((began - loadStart).TotalSeconds, (context.Time.GetUtcNow() - loadStart).TotalSeconds, began);
    }

    private async Task<double?> FewestReplicasUpAsync(ScenarioContext context, TimeSpan phase, CancellationToken cancellationToken)
    {
        var seconds = (int)Math.Ceiling(phase.TotalSeconds);
        return await context.Prometheus.QueryScalarAsync($"min_over_time(({KeySignal.PromQl})[{seconds}s:1s])", null, cancellationToken);
    }

    private static double ErrorRate(IReadOnlyCollection<SecondStats> seconds) =>
        Math.Round(seconds.Sum(second => (double)second.Errors) / Math.Max(1, seconds.Sum(second => second.Requests)), 4);

    private static async Task<bool> IsReadyAsync(ServiceProcess shop, CancellationToken cancellationToken)
    {
        if (shop.HasExited)
        {
            return false;
        }

        try
        {
            using var response = await shop.Client.GetAsync("/health/ready", cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Every replica up and ready, including the ones the supervisor is still restarting (their
    /// process may exit in a crash loop and be replaced): the fleet's list is read again each time.
    /// </summary>
    private static async Task WaitUntilEveryReplicaReadyAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var deadline = context.Time.GetUtcNow() + TimeSpan.FromSeconds(60);
        while (true)
        {
            var ready = await Task.WhenAll(context.Fleet.Shops.ToList().Select(shop => IsReadyAsync(shop, cancellationToken)));
            if (ready.All(ok => ok))
            {
                return;
            }

            if (context.Time.GetUtcNow() > deadline)
            {
                throw new TimeoutException("The shop replicas were not all ready within 60 s of the phase's end; see logs/supervisor.log.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken);
        }
    }

    /// <summary>
    /// The phase's requests through the gateway, unmeasured, a second at a time until one second is
    /// answered without an error and with p99 under <see cref="WarmP99Ms"/> (at most
    /// <see cref="WarmLimit"/>). The broken phase restarted every replica, and a .NET process started
    /// moments ago compiles its code as requests first reach it (tiered JIT): its first second's p99
    /// was 0.6–2 s on a 2-core machine. The fixed phase starts from warm replicas, as the broken one did.
    /// </summary>
    private async Task WarmAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        using var client = context.GatewayClient(RequestTimeout);
        var generator = new LoadGenerator(client, context.Time);
        var seconds = new List<string>();
        for (var second = 1; second <= WarmLimit.TotalSeconds; second++)
        {
            var probe = await generator.RunAsync(new LoadProfile
            {
                Model = LoadModel.Open,
                RatePerSecond = Rate,
                Duration = TimeSpan.FromSeconds(1),
                RequestTimeout = RequestTimeout,
                Mix = Mix(phase),
            }, progress: null, cancellationToken);
            seconds.Add(string.Create(CultureInfo.InvariantCulture, $"{second,2} s: {probe.Total.Requests} requests, p99 {probe.Total.P99Ms,7:0.0} ms, errors {probe.Total.ErrorRate:P0}"));
            if (probe.Total.ErrorRate == 0 && probe.Total.P99Ms <= WarmP99Ms)
            {
                break;
            }
        }

        context.Evidence.Add($"The restarted replicas warmed before the phase (until one second's p99 is under {WarmP99Ms} ms)", phase,
            "(the lab's load generator through the gateway, the phase's requests, 1 s at a time)", string.Join('\n', seconds));
    }

    /// <summary>What an engineer checks: the replica's liveness and readiness, the gateway's view, and the identity that was cut.</summary>
    private async Task CaptureAsync(ScenarioContext context, string phase, CancellationToken cancellationToken)
    {
        var fleet = context.Fleet;
        var replicas = string.Join(' ', fleet.Shops.Select(shop => $"{shop.Name}={shop.Address}"));
        var prefix = fleet.Database;
        if (Chosen.Fault == Fault.LostRedis)
        {
            var redis = fleet.Identities!.Redis;
            await context.Evidence.ShellAsync("Each replica's Redis user (on/off), and who is connected", phase,
                $"redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} ACL LIST | grep {prefix} | cut -d' ' -f1-3; "
                + $"redis-cli -p {redis.Port} --user {PrivateRedis.AdminUser} CLIENT LIST | grep -o 'user=[a-z0-9_]*' | sort | uniq -c",
                new Dictionary<string, string> { ["REDISCLI_AUTH"] = redis.AdminPassword }, cancellationToken: cancellationToken);
        }
        else
        {
            await context.Evidence.PsqlAsync("Each replica's PostgreSQL role: may it log in, and its sessions", phase,
                $"SELECT r.rolname, r.rolcanlogin, count(a.pid) AS sessions FROM pg_roles r LEFT JOIN pg_stat_activity a ON a.usename = r.rolname "
                + $"WHERE r.rolname LIKE '{prefix}%' GROUP BY 1, 2 ORDER BY 1", cancellationToken);
        }

        await context.Evidence.ShellAsync("Liveness and readiness of each replica, and the gateway's readiness (destinations in rotation)", phase,
            $"for r in {replicas}; do for p in live ready; do echo \"${{r%%=*}} /health/$p: $(curl -s -m 3 -w ' -> %{{http_code}}' \"${{r#*=}}health/$p\")\"; done; done; "
            + $"echo \"gateway /health/ready: $(curl -s -m 3 {fleet.Gateway.Address}health/ready)\"",
            cancellationToken: cancellationToken);
    }
}
