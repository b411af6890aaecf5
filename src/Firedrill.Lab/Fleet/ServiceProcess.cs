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
public sealed class ServiceProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly string _token;

    private ServiceProcess(string name, string project, Uri address, Process process, StreamWriter log, string token)
    {
        (Name, Project, Address, _process, _log, _token) = (name, project, address, process, log, token);
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Name { get; }

    public string Project { get; }

    public Uri Address { get; }

    public int Pid => _process.Id;

    /// <summary>The folder it runs from: its ReadyToRun publish, or its build output when that is newer.</summary>
    public string Folder => _process.StartInfo.WorkingDirectory;

    public bool HasExited => _process.HasExited;

    /// <summary>A client for the service's own endpoints (health, metrics, control), never for load.</summary>
    public HttpClient Client { get; }

    /// <param name="port">Where it listens; null: any free port (a restarted replica keeps its own).</param>
    public static ServiceProcess Start(string name, string project, string logFolder, string token, IReadOnlyDictionary<string, string> settings, int? port = null)
    {
        port ??= LoopbackPorts.Free();
        var dll = Path.Combine(ServiceFolder(project), project + ".dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{project} is not built ({dll} is missing); run ./firedrill, which builds it.");
        }

        var start = new ProcessStartInfo("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"])
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

        var log = new StreamWriter(Path.Combine(logFolder, name + ".log"), append: true, Encoding.UTF8) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {project}.");
        process.OutputDataReceived += (_, line) => Write(log, line.Data);
        process.ErrorDataReceived += (_, line) => Write(log, line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServiceProcess(name, project, new Uri($"http://127.0.0.1:{port}"), process, log, token);
    }

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
        Client.Dispose();
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
