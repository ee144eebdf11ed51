"""Plans, Stripe subscriptions, invoices, usage metering and quotas, cost estimates."""
