using Firedrill.Lab.Scenarios;
using ScottPlot;
using SkiaSharp;

namespace Firedrill.Lab.Reports;

/// <summary>
/// The two PNGs of a scenario, drawn from its per-second timeline: latency (p50, p99) with the
/// error rate on a right axis, and the scenario's key signal; both marked where each phase starts,
/// so the eye goes straight to what changed when the fault went on and when the fix went in.
/// </summary>
internal static class ReportCharts
{
    public const int Width = 900;
    public const int Height = 450;
    public const string Folder = "charts";

    private const float TitleSize = 18;
    private const float AxisLabelSize = 15;
    private const float TickSize = 13;
    private const float PhaseLabelBand = 30;

    /// <param name="name">The file name stem, e.g. the scenario id.</param>
    // Skia's font manager here (SkiaSharp's no-dependencies build: no fontconfig) knows the files in
    // /usr/share/fonts, and ScottPlot's own pick (Fonts.Sans) falls back to DejaVu Serif on Debian.
    // A sans face reads better at chart sizes; with none installed, ScottPlot's default stays.
    private static readonly string[] PreferredSans = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Open Sans", "Arial"];
    private static readonly Lazy<string?> SansFont = new(() =>
    {
        var installed = SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return PreferredSans.FirstOrDefault(installed.Contains);
    });

    public static ChartFiles Write(string folder, string name, ScenarioReport report) =>
        Write(folder, name, report.Scenario, report.Timeline, report.KeySignal, report.ChartSignals);

    /// <summary>
    /// The same two charts for any per-second timeline (a fault's, whose "phases" are its stages):
    /// <paramref name="keySignal"/> and <paramref name="chartSignals"/> are keys of its points' signals.
    /// </summary>
    public static ChartFiles Write(string folder, string name, string title, IReadOnlyList<TimelinePoint> timeline, string? keySignal, IReadOnlyList<string> chartSignals)
    {
        // No timeline (a run that failed before measuring): no chart rather than an empty one.
        if (timeline.Count == 0)
        {
            return ChartFiles.None;
        }

        Directory.CreateDirectory(Path.Combine(folder, Folder));
        var latency = $"{Folder}/{name}-latency.png";
        using (var plot = Latency(title, timeline))
        {
            plot.SavePng(Path.Combine(folder, latency), Width, Height);
        }

        string? signal = null;
        if (keySignal is { } key && timeline.Any(point => point.Signals.ContainsKey(key)))
        {
            signal = $"{Folder}/{name}-signal.png";
            using var plot = Signal(title, timeline, [key, .. chartSignals]);
            plot.SavePng(Path.Combine(folder, signal), Width, Height);
        }

        return new ChartFiles(latency, signal);
    }

    private static Plot Latency(string title, IReadOnlyList<TimelinePoint> timeline)
    {
        var plot = NewPlot($"{title}: latency and errors", "latency (ms)");
        Line(plot, timeline, point => point.P50Ms, "p50 ms", Colors.SteelBlue);
        Line(plot, timeline, point => point.P99Ms, "p99 ms", Colors.DarkOrange);
        var errors = Line(plot, timeline, point => point.ErrorRate * 100, "error rate % (right axis)", Colors.Crimson);
        errors.Axes.YAxis = plot.Axes.Right;
        errors.LinePattern = LinePattern.Dotted;

        plot.Axes.Right.Label.Text = "error rate (%)";
        plot.Axes.Right.Label.FontSize = AxisLabelSize;
        plot.Axes.Right.TickLabelStyle.FontSize = TickSize;
        // Latency and errors both start at zero: a scale starting elsewhere exaggerates small changes.
        plot.Axes.SetLimitsY(0, Top(timeline.Select(point => point.P50Ms).Concat(timeline.Select(point => point.P99Ms))), plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(Top(timeline.Select(point => point.ErrorRate * 100)), 1), plot.Axes.Right);
        FinishX(plot, timeline);
        return plot;
    }

    private static readonly Color[] SignalColors = [Colors.SeaGreen, Colors.Crimson, Colors.SteelBlue, Colors.DarkOrange, Colors.Purple];

    /// <summary>The key signal (first) and the scenario's other chart signals, on one axis.</summary>
    private static Plot Signal(string title, IReadOnlyList<TimelinePoint> timeline, IReadOnlyList<string> keys)
    {
        var plot = NewPlot($"{title}: {keys[0]}", keys.Count == 1 ? keys[0] : "value");
        var all = new List<double>();
        for (var i = 0; i < keys.Count; i++)
        {
            var key = keys[i];
            Line(plot, timeline, point => point.Signals.TryGetValue(key, out var value) ? value : double.NaN, key, SignalColors[i % SignalColors.Length]);
            all.AddRange(timeline.Select(point => point.Signals.TryGetValue(key, out var value) ? value : double.NaN));
        }

        var bottom = Math.Min(0, all.Where(double.IsFinite).DefaultIfEmpty(0).Min());
        plot.Axes.SetLimitsY(bottom, Top(all), plot.Axes.Left);
        FinishX(plot, timeline);
        return plot;
    }

    private static Plot NewPlot(string title, string leftLabel)
    {
        var plot = new Plot();
        if (SansFont.Value is { } font)
        {
            plot.Font.Set(font);
        }

        plot.Title(title, TitleSize);
        // Room between the title and the data area for the phase labels drawn on the top edge.
        plot.Axes.Top.MinimumSize = PhaseLabelBand;
        plot.Axes.Left.Label.Text = leftLabel;
        plot.Axes.Bottom.Label.Text = "seconds";
        foreach (IAxis axis in new IAxis[] { plot.Axes.Left, plot.Axes.Bottom })
        {
            axis.Label.FontSize = AxisLabelSize;
            axis.TickLabelStyle.FontSize = TickSize;
        }

        return plot;
    }

    /// <summary>A series without its NaN points: a missing second is a gap in the data, not a zero.</summary>
    private static ScottPlot.Plottables.Scatter Line(Plot plot, IReadOnlyList<TimelinePoint> timeline, Func<TimelinePoint, double> value, string legend, Color color)
    {
        var points = timeline.Select(point => (X: point.Second, Y: value(point))).Where(point => double.IsFinite(point.Y)).ToArray();
        var line = plot.Add.Scatter(points.Select(point => point.X).ToArray(), points.Select(point => point.Y).ToArray(), color);
        line.LegendText = legend;
        line.LineWidth = 2;
        line.MarkerSize = 0;
        return line;
    }

    /// <summary>The x range, a dashed line where each phase starts labelled with its name, and the legend.</summary>
    private static void FinishX(Plot plot, IReadOnlyList<TimelinePoint> timeline)
    {
        string? previous = null;
        foreach (var point in timeline)
        {
            if (point.Phase != previous)
            {
                var line = plot.Add.VerticalLine(point.Second, 1.5f, Colors.Gray, LinePattern.Dashed);
                line.LabelText = point.Phase;
                line.LabelOppositeAxis = true;
                line.LabelFontSize = TickSize;
                previous = point.Phase;
            }
        }

        var first = timeline.Min(point => point.Second);
        var last = timeline.Max(point => point.Second);
        plot.Axes.SetLimitsX(first, Math.Max(last, first + 1), plot.Axes.Bottom);
        plot.ShowLegend(Alignment.UpperLeft);
    }

    /// <summary>A little headroom above the highest finite value, so the top of a spike is visible.</summary>
    private static double Top(IEnumerable<double> values)
    {
        var max = values.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        return max > 0 ? max * 1.1 : 1;
    }
}
