namespace Firedrill.Lab.Prometheus;

/// <summary>
/// A child process's stdout and stderr lines, appended to one file as they arrive (flushed per
/// line, so the file is useful even if the lab dies), remembering the last line for error messages.
/// </summary>
internal sealed class ProcessLog : IDisposable
{
    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;
    private bool _closed;

    private ProcessLog(string path, StreamWriter writer)
    {
        Path = path;
        _writer = writer;
    }

    public string Path { get; }

    public string? LastLine { get; private set; }

    public static ProcessLog Open(string path)
    {
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        return new ProcessLog(path, new StreamWriter(stream) { AutoFlush = true });
    }

    public void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            // Output events can race the close when a process is abandoned after a failed start.
            if (!_closed)
            {
                _writer.WriteLine(line);
                LastLine = line;
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (!_closed)
            {
                _closed = true;
                _writer.Dispose();
            }
        }
    }
}
