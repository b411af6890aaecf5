using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>
/// In a lab fleet, each service watches the lab process (<c>Lab:ParentPid</c>) and stops when it
/// is gone, so even a lab killed with SIGKILL leaves no orphan processes behind.
/// </summary>
internal sealed class ParentWatchdog(IConfiguration configuration, IHostApplicationLifetime lifetime, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(configuration["Lab:ParentPid"], out var parentPid))
        {
            return;
        }

        using var timer = new PeriodicTimer(CheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (!IsAlive(parentPid))
            {
                lifetime.StopApplication();
                return;
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
