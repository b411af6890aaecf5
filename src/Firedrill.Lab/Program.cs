using Firedrill.Lab.Cli;

// `firedrill load` is a process that only drives load: its socket completions run on the socket
// engine's thread, as wrk's run on its event loop, instead of waking a thread-pool worker for each
// answer (bench/: loadgen, about 30% more requests a second and a lower p50). The runtime reads the
// variable once, at its first asynchronous socket operation, so it is set before anything else. The
// other commands keep the default: they run the fleet, and their continuations may block.
if (args is ["load", ..])
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

// Spectre.Console wraps tables at 80 columns when stdout is not a terminal, splitting URLs and ids
// across lines; in a pipe or a file, tables take the width their content needs instead.
if (Console.IsOutputRedirected)
{
    Spectre.Console.AnsiConsole.Profile.Width = 500;
}

return await LabCommands.Build().Parse(args).InvokeAsync();
