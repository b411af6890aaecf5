using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Firedrill.Lab.Fleet;

/// <summary>
/// One service of the fleet as a real process, started from its build output on its own
/// loopback port, in lab mode with the run's token. Its output (JSON log lines) goes to a file
/// in the run's folder. It watches the lab's pid and exits if the lab dies.
/// </summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly string _token;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpClient? _client;

    private ServiceProcess(string name, string project, Process process, StreamWriter log, string token)
    {
        (Name, Project, _process, _log, _token) = (name, project, process, log, token);
    }

    public string Name { get; }

    public string Project { get; }

    /// <summary>
    /// Where it listens, as Kestrel reported it once bound (known by the time
    /// <see cref="WaitReadyAsync"/> returns).
    /// </summary>
    public Uri Address => _listening.Task.IsCompletedSuccessfully
        ? _listening.Task.Result
        : throw new InvalidOperationException($"{Name} is not listening yet; await WaitReadyAsync first.");

    public int Pid => _process.Id;

    /// <summary>Its address is known (it has bound its port).</summary>
    public bool IsListening => _listening.Task.IsCompletedSuccessfully;

    /// <summary>The folder it runs from: its ReadyToRun publish, or its build output when that is newer.</summary>
    public string Folder => _process.StartInfo.WorkingDirectory;

    public bool HasExited => _process.HasExited;

    /// <summary>A client for the service's own endpoints (health, metrics, control), never for load.</summary>
    public HttpClient Client => _client ??= new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };

    /// <param name="port">
    /// Where it listens; null: a port Kestrel picks when it binds (port 0), read back from its log.
    /// A port picked by the lab and released before the service binds it could be taken in between
    /// by another fleet's service, and the lab would then talk to the wrong process.
    /// </param>
    public static ServiceProcess Start(string name, string project, string logFolder, string token, IReadOnlyDictionary<string, string> settings, int? port = null)
    {
        var dll = Path.Combine(ServiceFolder(project), project + ".dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{project} is not built ({dll} is missing); run ./firedrill, which builds it.");
        }

        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port ?? 0}"])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["Lab__Enabled"] = "true";
        start.Environment["Lab__Token"] = token;
        start.Environment["Lab__InstanceId"] = name;
        start.Environment["Lab__ParentPid"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["DOTNET_gcServer"] = "0";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        // The line the bound address is read from, whatever levels a scenario sets.
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        var log = new StreamWriter(Path.Combine(logFolder, name + ".log"), append: true, Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        var service = new ServiceProcess(name, project, process, log, token);
        if (port is { } chosen)
        {
            // A port of the lab's choosing is known now; if it is taken, the service exits and says so.
            service._listening.TrySetResult(new Uri($"http://127.0.0.1:{chosen.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
        }

        process.OutputDataReceived += (_, line) => service.Read(line.Data);
        process.ErrorDataReceived += (_, line) => service.Read(line.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {project}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    private void Read(string? line)
    {
        Write(_log, line);
        if (line is not null && !_listening.Task.IsCompleted && ListeningOn().Match(line) is { Success: true } match)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    /// <summary>ASP.NET Core's "Now listening on: http://127.0.0.1:PORT", plain or in a JSON log line.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial System.Text.RegularExpressions.Regex ListeningOn();

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    public async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        await WaitListeningAsync(cancellationToken);
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} while starting; see its log.");
            }

            try
            {
                using var response = await Client.GetAsync("/health/ready", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(25, cancellationToken);
        }

        throw new TimeoutException($"{Name} did not become ready within {ReadyTimeout.TotalSeconds} s; see its log.");
    }

    /// <summary>Waits until the service accepts connections on its port (its <see cref="Address"/> is known), not until it is ready.</summary>
    public async Task WaitListeningAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (!_listening.Task.IsCompleted)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} while starting; see its log.");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} did not start listening within {ReadyTimeout.TotalSeconds} s; see its log.");
            }

            await Task.WhenAny(_listening.Task, Task.Delay(25, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }

        // A port of the lab's choosing is known before the service has bound it: wait until it accepts.
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(Address.Host, Address.Port, cancellationToken);
                return;
            }
            catch (SocketException) when (!_process.HasExited && DateTime.UtcNow <= deadline)
            {
                await Task.Delay(25, cancellationToken);
            }
            catch (SocketException) when (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} while starting; see its log.");
            }
            catch (SocketException)
            {
                throw new TimeoutException($"{Name} did not start listening within {ReadyTimeout.TotalSeconds} s; see its log.");
            }
        }
    }

    /// <summary>Writes configuration overrides through the service's <c>/_lab/config</c>.</summary>
    public async Task ConfigureAsync(string json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/_lab/config")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Lab-Token", _token);
        using var response = await Client.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{Name} refused the settings {json}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }

    /// <summary>
    /// Stops the process where it stands (SIGSTOP), as a long stop-the-world pause, a VM stall or a debugger
    /// does: its timers, threads and sockets freeze, and it believes nothing happened when <see cref="ResumeAsync"/> lets it go on.
    /// </summary>
    public Task PauseAsync(CancellationToken cancellationToken) => SignalAsync("STOP", cancellationToken);

    /// <summary>Lets a paused process go on (SIGCONT).</summary>
    public Task ResumeAsync(CancellationToken cancellationToken) => SignalAsync("CONT", cancellationToken);

    private async Task SignalAsync(string signal, CancellationToken cancellationToken)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { RedirectStandardError = true })
            ?? throw new InvalidOperationException("kill could not be started");
        await kill.WaitForExitAsync(cancellationToken);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} ({Name}) failed: {(await kill.StandardError.ReadToEndAsync(cancellationToken)).Trim()}");
        }
    }

    /// <summary>Kills the process at once, as a crash or an OOM kill would.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
        _client?.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    /// <summary>The service's assembly, where the fleet would start it from.</summary>
    internal static string DllPath(string project) => Path.Combine(ServiceFolder(project), project + ".dll");

    private static string ServiceFolder(string project)
    {
        // The lab's own output folder is artifacts/bin/Firedrill.Lab/{configuration}.
        var mine = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return ServiceFolder(mine.Parent!.Parent!.Parent!.FullName, mine.Name, project);
    }

    /// <summary>
    /// Where a service runs from: its ReadyToRun publish (artifacts/publish/{project}/{configuration},
    /// written by eng/publish.sh), precompiled, so a replica is ready sooner; but only when that is at
    /// least as new as its build output (artifacts/bin/{project}/{configuration}), so a build made
    /// after the last publish is never shadowed by older code.
    /// </summary>
    internal static string ServiceFolder(string artifacts, string configuration, string project)
    {
        var build = Path.Combine(artifacts, "bin", project, configuration);
        var published = Path.Combine(artifacts, "publish", project, configuration);
        return File.Exists(Path.Combine(published, project + ".dll")) && NewestAssembly(published) >= NewestAssembly(build) ? published : build;
    }

    private static DateTime NewestAssembly(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*.dll").Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max()
            : DateTime.MinValue;
}
