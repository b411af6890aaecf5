-- An order is priced in one currency, and a payment must match its total and currency.
ALTER TABLE orders ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR';

-- The order's own defence against a double charge, the second after the Idempotency-Key: at most
-- one accepted payment per order, enforced by the database whatever path wrote the payment. A
-- refunded duplicate ('refunded') no longer counts.
CREATE UNIQUE INDEX payments_one_accepted_per_order ON payments (order_id) WHERE status = 'accepted';
