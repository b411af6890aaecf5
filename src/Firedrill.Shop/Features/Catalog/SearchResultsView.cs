using Microsoft.Extensions.Options;

namespace Firedrill.Shop.Features.Catalog;

/// <summary>
/// One request's search results as the catalog's display settings shape them. It follows the
/// settings while the response is built (an operator may lower <see cref="CatalogOptions.MaxPageSize"/>
/// at any time), through a subscription on the long-lived options monitor: a subscription that
/// must end with the request, or the monitor keeps every request's view, and its page, alive.
/// </summary>
internal sealed class SearchResultsView : IDisposable
{
    private readonly ProductPage _page;
    private CatalogOptions _settings;
    private IDisposable? _subscription;

    private SearchResultsView(ProductPage page, IOptionsMonitor<CatalogOptions> options)
    {
        _page = page;
        _settings = options.CurrentValue;
        _subscription = options.OnChange(settings => _settings = settings);
    }

    /// <summary>A view whose subscription ends when it is disposed (with the request).</summary>
    public static SearchResultsView Watch(ProductPage page, IOptionsMonitor<CatalogOptions> options) => new(page, options);

    /// <summary>
    /// Reproduces memory-growth (undisposed-subscription): the subscription's handle is dropped, so
    /// the options monitor — a singleton — holds this view's callback, the view and its page forever.
    /// </summary>
    public static SearchResultsView WatchWithoutUnsubscribing(ProductPage page, IOptionsMonitor<CatalogOptions> options)
    {
        var view = new SearchResultsView(page, options);
        view._subscription = null;
        return view;
    }

    /// <summary>The page as the current settings allow it.</summary>
    public ProductPage Render() =>
        _page.Items.Count <= _settings.MaxPageSize ? _page : _page with { Items = _page.Items.Take(_settings.MaxPageSize).ToList() };

    public void Dispose()
    {
        _subscription?.Dispose();
        _subscription = null;
    }
}
