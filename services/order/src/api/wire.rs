//! The order service's values as the wire shows them: carts, orders, their statuses, addresses and money.
//! (Wire values are parsed into domain values where those are defined: [`crate::domain`],
//! [`crate::checkout::OrderRequest`].)

use buffa::{EnumValue, MessageField, ProtoBox};
use buffa_types::Timestamp;
use chrono::{DateTime, Datelike, Utc};
use ec_proto::{order::v1 as wire, product::v1::Money};

use crate::{
    error::Error,
    events::Placed,
    orders::{Line, Order, PaymentStatus, Status},
    pricing::PricedCart,
    report::{Figures, Report},
};

fn money(amount: i64, currency_code: &str) -> Money {
    Money { amount, currency_code: currency_code.to_owned(), ..Default::default() }
}

fn timestamp<P: ProtoBox<Timestamp>>(at: Option<DateTime<Utc>>) -> MessageField<Timestamp, P> {
    at.map_or(MessageField::none(), |at| MessageField::some(at.into()))
}

/// A priced cart: each line flagged when it cannot be bought as it is; the shipping fee and total only when
/// the cart has a fee.
pub fn cart(cart: PricedCart) -> wire::Cart {
    let total = cart.total();
    let currency = cart.currency_code.as_str();
    wire::Cart {
        items: cart
            .lines
            .iter()
            .map(|priced| {
                let (line, sku) = (&priced.line, priced.sku.as_ref());
                wire::CartItem {
                    sku_id: line.sku_id.to_string(),
                    quantity: line.quantity,
                    product_id: sku.map(|sku| sku.product_id.to_string()).unwrap_or_default(),
                    product_name: sku.map(|sku| sku.product_name.clone()).unwrap_or_default(),
                    sku_code: sku.map(|sku| sku.code.clone()).unwrap_or_default(),
                    unit_price: MessageField::some(money(priced.unit_price, &line.currency_code)),
                    line_total: MessageField::some(money(priced.line_total, &line.currency_code)),
                    available_quantity: priced.available,
                    purchasable: sku.is_some(),
                    added_at: MessageField::some(line.added_at.into()),
                    ..Default::default()
                }
            })
            .collect(),
        subtotal: MessageField::some(money(cart.subtotal, currency)),
        updated_at: timestamp(cart.updated_at),
        shipping_fee: cart.shipping_fee.map_or(MessageField::none(), |fee| MessageField::some(money(fee, currency))),
        total: total.map_or(MessageField::none(), |total| MessageField::some(money(total, currency))),
        ..Default::default()
    }
}

/// An order, whole.
pub fn order(order: Order) -> wire::Order {
    let currency = order.currency_code.as_str();
    wire::Order {
        id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        status: status(order.status).into(),
        items: order.lines.iter().map(|line| order_item(line, currency)).collect(),
        subtotal: MessageField::some(money(order.subtotal, currency)),
        shipping_fee: MessageField::some(money(order.shipping_fee, currency)),
        total: MessageField::some(money(order.total, currency)),
        shipping_address: MessageField::some(order.address.to_wire()),
        payment_status: payment_status(order.payment_status).into(),
        failure_reason: order.failure_reason,
        tracking_number: order.tracking_number.unwrap_or_default(),
        created_at: MessageField::some(order.created_at.into()),
        updated_at: MessageField::some(order.updated_at.into()),
        cancelled_at: timestamp(order.cancelled_at),
        shipped_at: timestamp(order.shipped_at),
        customer_email: order.customer.email,
        customer_name: order.customer.name,
        ..Default::default()
    }
}

fn order_item(line: &Line, currency: &str) -> wire::OrderItem {
    wire::OrderItem {
        sku_id: line.sku_id.to_string(),
        product_id: line.product_id.to_string(),
        product_name: line.product_name.clone(),
        sku_code: line.sku_code.clone(),
        quantity: line.quantity,
        unit_price: MessageField::some(money(line.unit_price, currency)),
        line_total: MessageField::some(money(line.unit_price * line.quantity, currency)),
        ..Default::default()
    }
}

/// What an order's events tell of it.
pub fn placed_order(placed: &Placed) -> wire::PlacedOrder {
    let currency = placed.currency_code.as_str();
    wire::PlacedOrder {
        order_id: placed.id.to_string(),
        user_id: placed.user_id.to_string(),
        items: placed.lines.iter().map(|line| order_item(line, currency)).collect(),
        subtotal: MessageField::some(money(placed.subtotal, currency)),
        shipping_fee: MessageField::some(money(placed.shipping_fee, currency)),
        total: MessageField::some(money(placed.subtotal + placed.shipping_fee, currency)),
        shipping_address: MessageField::some(placed.address.to_wire()),
        ..Default::default()
    }
}

fn status(status: Status) -> wire::OrderStatus {
    match status {
        Status::Pending => wire::OrderStatus::ORDER_STATUS_PENDING,
        Status::Confirmed => wire::OrderStatus::ORDER_STATUS_CONFIRMED,
        Status::Failed => wire::OrderStatus::ORDER_STATUS_FAILED,
        Status::Cancelled => wire::OrderStatus::ORDER_STATUS_CANCELLED,
        Status::Shipped => wire::OrderStatus::ORDER_STATUS_SHIPPED,
    }
}

/// The sales report as the dashboard reads it.
pub fn sales_report(report: Report) -> wire::AdminSalesReportResponse {
    let figures = |figures: Figures, currency: &str| wire::SalesFigures {
        revenue: MessageField::some(money(figures.revenue, currency)),
        orders: figures.orders,
        average_order_value: MessageField::some(money(figures.average(), currency)),
        ..Default::default()
    };
    wire::AdminSalesReportResponse {
        first_day: report.first_day.to_string(),
        today: report.today.to_string(),
        currencies: report
            .currencies
            .into_iter()
            .map(|sales| {
                let currency = sales.currency_code.as_str();
                wire::CurrencySales {
                    today: MessageField::some(figures(sales.today, currency)),
                    period: MessageField::some(figures(sales.period, currency)),
                    days: sales
                        .days
                        .iter()
                        .map(|(day, sold)| wire::DaySales {
                            date: day.to_string(),
                            revenue: MessageField::some(money(sold.revenue, currency)),
                            orders: sold.orders,
                            ..Default::default()
                        })
                        .collect(),
                    best_sellers: sales
                        .best_sellers
                        .iter()
                        .map(|product| wire::ProductSales {
                            product_id: product.product_id.to_string(),
                            product_name: product.product_name.clone(),
                            units: product.units,
                            revenue: MessageField::some(money(product.revenue, currency)),
                            ..Default::default()
                        })
                        .collect(),
                    currency_code: sales.currency_code,
                    ..Default::default()
                }
            })
            .collect(),
        orders_by_status: report
            .by_status
            .into_iter()
            .map(|(status, count)| wire::StatusCount {
                status: self::status(status).into(),
                count,
                ..Default::default()
            })
            .collect(),
        awaiting_shipment: report.awaiting_shipment,
        ..Default::default()
    }
}

/// A timestamp a request carries, as an instant; one outside what PostgreSQL can hold (years 1 to 9999 here)
/// or with nanoseconds out of range is `invalid_argument` naming `field`.
pub fn instant(at: &Timestamp, field: &str) -> Result<DateTime<Utc>, Error> {
    u32::try_from(at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or_else(|| Error::InvalidArgument(format!("{field} is not a valid timestamp")))
}

/// An order status filter from the wire: `invalid_argument` unless it is a known status.
pub fn status_from_wire(status: EnumValue<wire::OrderStatus>) -> Result<Status, Error> {
    match status.as_known() {
        Some(wire::OrderStatus::ORDER_STATUS_PENDING) => Ok(Status::Pending),
        Some(wire::OrderStatus::ORDER_STATUS_CONFIRMED) => Ok(Status::Confirmed),
        Some(wire::OrderStatus::ORDER_STATUS_FAILED) => Ok(Status::Failed),
        Some(wire::OrderStatus::ORDER_STATUS_CANCELLED) => Ok(Status::Cancelled),
        Some(wire::OrderStatus::ORDER_STATUS_SHIPPED) => Ok(Status::Shipped),
        _ => Err(Error::InvalidArgument("status must be a known order status".into())),
    }
}

fn payment_status(status: PaymentStatus) -> wire::PaymentStatus {
    match status {
        PaymentStatus::Pending => wire::PaymentStatus::PAYMENT_STATUS_PENDING,
        PaymentStatus::Authorized => wire::PaymentStatus::PAYMENT_STATUS_AUTHORIZED,
        PaymentStatus::Declined => wire::PaymentStatus::PAYMENT_STATUS_DECLINED,
        PaymentStatus::Voided => wire::PaymentStatus::PAYMENT_STATUS_VOIDED,
        PaymentStatus::Captured => wire::PaymentStatus::PAYMENT_STATUS_CAPTURED,
        PaymentStatus::Refunded => wire::PaymentStatus::PAYMENT_STATUS_REFUNDED,
    }
}
