namespace Firedrill.Shop.Features.Orders;

public sealed record CreateOrderRequest(long? CustomerId, IReadOnlyList<OrderLineRequest>? Lines);

public sealed record OrderLineRequest(long? ProductId, int? Quantity);

public sealed record Order(long Id, long CustomerId, string Status, decimal Total, string Currency, DateTime CreatedAt, IReadOnlyList<OrderLine> Lines);

public sealed record OrderLine(long ProductId, int Quantity, decimal UnitPrice);

public sealed record OrderPage(IReadOnlyList<Order> Items, int Page, int PageSize);

/// <summary>What placing an order came to: the order, or the reason there is none.</summary>
internal abstract record PlaceOrderOutcome
{
    public sealed record Placed(Order Order) : PlaceOrderOutcome;

    public sealed record UnknownCustomer(long CustomerId) : PlaceOrderOutcome;

    public sealed record UnknownProduct(long ProductId) : PlaceOrderOutcome;

    public sealed record InsufficientStock(long ProductId, int Requested, int Available) : PlaceOrderOutcome;

    public sealed record NotReserved(string Reason) : PlaceOrderOutcome;
}
