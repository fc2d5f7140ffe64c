// The shop owner's journey in a real browser (Debian's Chromium driven by playwright-core): sign in as an admin,
// build a category and a product with a SKU, stock and an image, publish it, count stock against a change made
// meanwhile, adjust it, ship an order, grant and remove the admin role; then, as a shopper, find the new product
// and be refused the back office. No serious accessibility violation (axe-core) on any back-office page seen, and
// none wider than a phone. Run by e2e/tests/storefront.rs against a platform it started and seeded:
//
//   WEB_URL=http://127.0.0.1:5173 ADMIN_EMAIL=... SHOPPER_EMAIL=... PASSWORD=... \
//     ORDER_ID=<a confirmed order of the shopper's, of one Sencha> node tests/backoffice.mjs
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";

import { accessible, check, inBrowser, openPath, screenshot, signIn, signOut } from "./browser.mjs";

const { WEB_URL, ADMIN_EMAIL, SHOPPER_EMAIL, NEWCOMER_EMAIL, PASSWORD, ORDER_ID, WEBHOOK_URL } = process.env;
/** Today's orders, placed by the harness, and their totals added up (in yen). */
const [REVENUE, ORDERS] = [Number(process.env.REVENUE), Number(process.env.ORDERS)];
const yen = (amount) => new Intl.NumberFormat("en", { style: "currency", currency: "JPY" }).format(amount);
const PRODUCT = "Kyusu teapot";
const SKU = "KYUSU-300ML";
const ALT = "A black clay teapot with a side handle";
/** The picture the owner uploads: one of the demo catalog's, a 1200 x 900 WebP. */
const PICTURE = fileURLToPath(new URL("../../services/product/demo/pictures/cast-iron-teapot.webp", import.meta.url));

/** A PNG that says it is `width` x `height` pixels (an empty image data chunk follows): enough to tell its size. */
function png(width, height) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // 8 bits a channel
  header.writeUInt8(2, 9); // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const empty = Buffer.alloc(0);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", empty), chunk("IEND", empty)]);
}

await inBrowser(async (page) => {
  const heading = (level, name) => page.getByRole("heading", { level, name, exact: true });
  const status = (text) => page.getByRole("status").filter({ hasText: text });
  const alert = (text) => page.getByRole("alert").filter({ hasText: text });
  const button = (name) => page.getByRole("button", { name, exact: true });
  const text = async (locator) => (await locator.textContent()).trim();
  /** Waits until `img` has loaded a stored copy of an uploaded picture (from a srcset of WebP copies). */
  const loaded = async (img) => {
    await img.waitFor();
    await page.waitForFunction((e) => e.complete && e.naturalWidth > 0, await img.elementHandle());
    const [current, srcset] = await img.evaluate((e) => [e.currentSrc, e.srcset]);
    check(/\/media\/products\/[0-9a-f-]+\/\d+\.webp$/.test(current), `showing ${current}`);
    check(/ 320w, .* 1200w$/.test(srcset), `srcset ${srcset}`);
  };
  const section = async (name) => {
    await page.getByRole("navigation", { name: "Back office" }).getByRole("link", { name, exact: true }).click();
    await heading(1, name).waitFor();
  };
  // Nothing wider than a phone's screen but the tables, which scroll on their own.
  const fitsPhone = async (name) => {
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    // What reaches past the screen outside a table that scrolls, to say what is too wide.
    const wide = await page.evaluate(() =>
      [...document.body.querySelectorAll("*")]
        .filter((e) => e.getBoundingClientRect().right > 390 && !e.parentElement?.closest(".scroll"))
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
        .slice(-5),
    );
    await page.setViewportSize({ width: 1280, height: 800 });
    check(width <= 390, `${name} is ${width} px wide on a phone: ${wide.join(", ")}`);
  };

  // An admin's header leads to the back office.
  await page.goto(WEB_URL);
  await signIn(page, ADMIN_EMAIL, PASSWORD);
  await page.getByRole("banner").getByRole("link", { name: "Back office" }).click();
  await heading(1, "Dashboard").waitFor();
  console.log("ok sign in");

  // The dashboard opens the back office: its figures are what the harness's own orders add up to (all placed
  // today, so today's equal the month's), the chart has every day, Sencha sold best, and the stock running out.
  const shown = (id) => text(page.getByTestId(id));
  await page.getByTestId("today-revenue").waitFor();
  for (const prefix of ["today", "period"]) {
    check((await shown(`${prefix}-revenue`)) === yen(REVENUE), `${prefix} revenue ${await shown(`${prefix}-revenue`)}`);
    check((await shown(`${prefix}-orders`)) === String(ORDERS), `${prefix} orders ${await shown(`${prefix}-orders`)}`);
    check((await shown(`${prefix}-average`)) === yen(Math.floor(REVENUE / ORDERS)), `${prefix} average`);
  }
  check((await shown("awaiting-shipment")) === String(ORDERS), `awaiting ${await shown("awaiting-shipment")}`);
  await page.getByRole("img", { name: /^Revenue per day, last 30 days/ }).waitFor();
  check((await page.locator(".chart rect").count()) === 30, "the chart has not 30 days");
  const best = await page.getByTestId("best-seller").allTextContents();
  check(best.length === 1 && best[0] === `Sencha${ORDERS}${yen(ORDERS * 1500)}`, `best sellers ${best}`);
  const confirmed = page.getByTestId("status-count").filter({ hasText: "Confirmed" });
  check((await text(confirmed)) === `Confirmed${ORDERS}`, `by status ${await text(confirmed)}`);
  const running = await page.getByTestId("running-out").allTextContents();
  check(running.join("|") === "Whisk standSTAND-1Sold out|Matcha whiskWHISK-802", `running out: ${running.join("|")}`);
  await accessible(page, "dashboard");
  await screenshot(page, "admin-dashboard");
  await fitsPhone("the dashboard");
  // "Ship them" opens the orders waiting to be shipped.
  await page.getByRole("link", { name: "Ship them" }).click();
  await heading(1, "Orders").waitFor();
  check((await page.getByLabel("Status").inputValue()) === "2", "the orders page is not filtered to Confirmed");
  console.log("ok dashboard");

  // Webhooks: an endpoint for published products; its secret is shown once (printed for the harness, which
  // verifies the delivery with it).
  await section("Webhooks");
  await page.getByLabel("URL").fill(WEBHOOK_URL);
  await page.getByLabel("Description (optional)").fill("Warehouse");
  await page.getByRole("checkbox", { name: "product.v1.published" }).check();
  await button("Add endpoint").click();
  const secret = await text(page.getByTestId("webhook-secret"));
  check(secret.startsWith("whsec_"), `the secret shown is ${secret}`);
  console.log(`secret ${secret}`);
  await page.getByRole("rowheader").filter({ hasText: WEBHOOK_URL }).waitFor();
  await accessible(page, "webhooks");
  await screenshot(page, "admin-webhooks");
  await fitsPhone("the webhooks page");
  console.log("ok webhook");

  // Categories: one at the top, renamed, and one under it; one created by mistake is deleted.
  await section("Categories");
  const createCategory = async (name, parent = "None (top level)") => {
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("Parent").selectOption({ label: parent });
    await button("Create category").click();
    await status(`Category “${name}” created.`).waitFor();
  };
  await createCategory("Tea things");
  await page.getByText("tea-things", { exact: true }).waitFor();
  await button("Rename Tea things").click();
  await page.getByLabel("New name for Tea things").fill("Teaware");
  await button("Save").click();
  await button("Rename Teaware").waitFor();
  await createCategory("Teapots", "Teaware");
  await createCategory("Mistake");
  await button("Delete Mistake").click();
  await button("Yes, delete it").click();
  await button("Delete Mistake").waitFor({ state: "detached" });
  await accessible(page, "categories");
  console.log("ok category");

  // A product in the subcategory, as a draft, with a SKU and its initial stock, then edited.
  await section("Products");
  await page.getByRole("link", { name: "New product" }).click();
  await heading(1, "New product").waitFor();
  await page.getByLabel("Name").fill(PRODUCT);
  await page.getByLabel("Description").fill("A side-handled teapot.");
  await page.getByLabel("Category").selectOption({ label: "Teaware › Teapots" });
  await accessible(page, "new product");
  await button("Create product").click();
  await heading(1, PRODUCT).waitFor();
  check((await text(page.getByTestId("product-status"))) === "Draft", "a new product is a draft");
  check(await button("Publish").isDisabled(), "a product without a SKU can be published");
  await page.getByLabel("SKU code").fill(SKU);
  await page.getByLabel("Price").fill("4,800");
  check((await page.getByLabel("Currency").inputValue()) === "JPY", "the currency is not JPY by default");
  await page.getByLabel("Attributes").fill("size=300ml");
  await page.getByLabel("Initial stock").fill("5");
  await button("Add SKU").click();
  const sku = page.getByRole("region", { name: SKU });
  const figure = (name) => sku.getByTestId(name);
  await figure("on-hand").waitFor();
  check((await text(figure("on-hand"))) === "5", `initial stock ${await text(figure("on-hand"))}`);
  const skuText = await text(sku);
  check(skuText.includes("¥4,800") && skuText.includes("size: 300ml"), `the SKU shows ${skuText}`);
  await page.getByLabel("Description").fill("A side-handled teapot for sencha, 300 ml.");
  await button("Save changes").click();
  await status("Saved.").waitFor();
  console.log("ok product");

  // The SKU's price changes; a second SKU added by mistake is deleted, after a question.
  await button(`Change price ${SKU}`).click();
  await page.getByLabel("New price (JPY)").fill("5,200");
  await button("Save price").click();
  await status("Price saved.").waitFor();
  await sku.getByText("¥5,200").waitFor();
  await page.getByLabel("SKU code").fill("KYUSU-MISTAKE");
  await page.getByLabel("Price", { exact: true }).fill("1");
  await page.getByLabel("Initial stock").fill("0");
  await button("Add SKU").click();
  const mistaken = page.getByRole("region", { name: "KYUSU-MISTAKE" });
  await mistaken.getByTestId("on-hand").waitFor();
  await button("Delete SKU KYUSU-MISTAKE").click();
  await button("Yes, delete the SKU").click();
  await mistaken.waitFor({ state: "detached" });
  check((await sku.count()) === 1, "the other SKU went too");
  console.log("ok sku price and delete");

  // A picture uploaded: stored as resized copies the page shows; then a link added beside it, and removed.
  const upload = page.locator("form").filter({ has: heading(3, "Upload a picture") });
  await upload.getByLabel("Picture file").setInputFiles(PICTURE);
  await upload.getByLabel("Alt text").fill(ALT);
  await button("Upload picture").click();
  await page.getByText("Stored, 1200 × 900 px").waitFor();
  await loaded(page.getByRole("img", { name: ALT }));
  const links = page.locator("form").filter({ has: heading(3, "Or link to a picture elsewhere") });
  await links.getByLabel("Image URL").fill("https://images.example.com/kyusu-lid.jpg");
  await links.getByLabel("Alt text").fill("The lid");
  await button("Add image").click();
  await button("Remove image 2: The lid").click();
  await page.getByRole("img", { name: "The lid" }).waitFor({ state: "detached" });
  await button(`Remove image 1: ${ALT}`).waitFor();
  // What is not a picture is refused with the reason.
  await upload
    .getByLabel("Picture file")
    .setInputFiles({ name: "notes.jpg", mimeType: "image/jpeg", buffer: Buffer.from("not a picture") });
  await upload.getByLabel("Alt text").fill("Notes");
  await button("Upload picture").click();
  await alert("This picture cannot be used: only JPEG, PNG and WebP pictures are taken.").waitFor();
  // One too wide is refused with its size, from the header alone.
  await upload
    .getByLabel("Picture file")
    .setInputFiles({ name: "banner.png", mimeType: "image/png", buffer: png(13000, 1) });
  await button("Upload picture").click();
  await alert("This picture cannot be used: it is 13,000 × 1 px, and a picture is at most 12,000 px a side").waitFor();
  console.log("ok image");

  const productStatus = (name) => page.getByTestId("product-status").filter({ hasText: name }).waitFor();
  await button("Publish").click();
  await productStatus("Published");
  await button("Hide").click();
  await productStatus("Hidden");
  await button("Publish").click();
  await productStatus("Published");
  await page.getByRole("link", { name: "See it in the shop" }).waitFor();
  console.log("ok publish");
  await accessible(page, "product");
  await fitsPhone("the product page");
  await screenshot(page, "admin-product");

  // A stock count quotes the version it was made against: a delivery recorded meanwhile makes it stale, and
  // saving it is refused rather than losing the delivery; the figures are read again and the count resubmitted.
  await sku.getByRole("button", { name: `Set stock ${SKU}` }).click();
  const counted = sku.getByLabel("Quantity on hand");
  check((await counted.inputValue()) === "5", `the count starts from ${await counted.inputValue()}`);
  const version = await text(figure("version"));
  await sku.getByLabel("Change by").fill("2");
  await sku.getByLabel("Reason").fill("delivery");
  await sku.getByRole("button", { name: `Adjust stock ${SKU}` }).click();
  await status("Stock adjusted: 7 on hand.").waitFor();
  check((await text(figure("version"))) !== version, "the version did not change");
  await counted.fill("6");
  await sku.getByRole("button", { name: `Save stock ${SKU}` }).click();
  await sku.getByRole("alert").filter({ hasText: "Someone else changed this stock" }).waitFor();
  check((await text(figure("on-hand"))) === "7", "the refused count changed the stock");
  await sku.getByRole("button", { name: `Save stock ${SKU}` }).click();
  await status("Stock set to 6.").waitFor();
  check((await text(figure("on-hand"))) === "6", `after the count: ${await text(figure("on-hand"))}`);
  console.log("ok stock conflict");

  await sku.getByLabel("Change by").fill("-1");
  await sku.getByLabel("Reason").fill("breakage");
  await sku.getByRole("button", { name: `Adjust stock ${SKU}` }).click();
  await status("Stock adjusted: 5 on hand.").waitFor();
  const stock = await Promise.all(["on-hand", "reserved", "available"].map((name) => text(figure(name))));
  check(stock.join("/") === "5/0/5", `on hand, reserved, available: ${stock.join("/")}`);
  console.log("ok adjust");

  // The list, filtered by status; the seeded product's stock shows the unit its order took.
  await section("Products");
  await page.getByLabel("Status").selectOption({ label: "Published" });
  await page.getByRole("link", { name: PRODUCT }).waitFor();
  await page.getByRole("link", { name: "Sencha" }).waitFor();
  await page.getByLabel("Status").selectOption({ label: "Draft" });
  await page.getByText("No products.").waitFor();
  await page.getByLabel("Status").selectOption({ label: "All statuses" });
  // Each row has its stock left, the first picture as a thumbnail; the search finds by name.
  const listed = (name) => page.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });
  check((await text(listed("Sencha").getByTestId("stock"))) === "8", `Sencha's stock ${await text(listed("Sencha"))}`);
  check((await text(listed("Whisk stand").getByTestId("stock"))) === "Sold out", "the stand is not sold out");
  await loaded(listed(PRODUCT).locator("img"));
  await page.getByLabel("Search products").fill("whisk");
  await button("Search").click();
  await page.getByRole("link", { name: "Sencha" }).waitFor({ state: "detached" });
  await page.getByRole("link", { name: "Matcha whisk" }).waitFor();
  const found = (await page.getByRole("rowheader").allTextContents()).sort();
  check(found.join() === "Matcha whisk,Whisk stand", `searching "whisk" found ${found}`);
  await page.getByLabel("Search products").fill("");
  await button("Search").click();
  await page.getByRole("link", { name: "Sencha" }).waitFor();
  await accessible(page, "products");
  await fitsPhone("the product list");
  await screenshot(page, "admin-products");
  await page.getByRole("link", { name: "Sencha" }).click();
  await heading(1, "Sencha").waitFor();
  const sencha = page.getByRole("region", { name: "SENCHA-100G" });
  await sencha.getByTestId("on-hand").waitFor();
  const seeded = await Promise.all(["on-hand", "reserved", "available"].map((name) => text(sencha.getByTestId(name))));
  check(seeded.join("/") === "8/0/8", `Sencha on hand, reserved, available: ${seeded.join("/")}`);
  console.log("ok product list");

  // A product created by mistake is deleted, once confirmed.
  await section("Products");
  await page.getByRole("link", { name: "New product" }).click();
  await page.getByLabel("Name").fill("Misprint");
  await button("Create product").click();
  await heading(1, "Misprint").waitFor();
  await button("Delete Misprint").click();
  await button("Yes, delete it").click();
  await heading(1, "Products").waitFor();
  await page.getByRole("link", { name: PRODUCT }).waitFor();
  await page.getByRole("link", { name: "Misprint" }).waitFor({ state: "detached" });
  console.log("ok delete");

  // Orders: the confirmed order, found by its status, is shipped with a tracking number.
  await section("Orders");
  const filterOrders = async (statusLabel, { email = "", account = "", from = "", to = "" } = {}) => {
    await page.getByLabel("Status").selectOption({ label: statusLabel });
    await page.getByLabel("Customer's email starts with").fill(email);
    await page.getByLabel("Account (user id)").fill(account);
    await page.getByLabel("Placed on or after").fill(from);
    await page.getByLabel("Placed on or before").fill(to);
    await button("Apply filters").click();
  };
  await filterOrders("Confirmed");
  const order = page.getByRole("link", { name: ORDER_ID });
  await order.waitFor();
  await accessible(page, "orders");
  await fitsPhone("the order list");
  await screenshot(page, "admin-orders");
  await order.click();
  await heading(1, "Order").waitFor();
  check((await text(page.getByTestId("order-status"))) === "Confirmed", "the order is not confirmed");
  // The customer by the email (and name, if any) they ordered with, not an id.
  check((await text(page.getByTestId("customer"))) === "buyer@example.com", "the customer is not named");
  const account = await text(page.getByTestId("account"));
  await page.getByText("SENCHA-100G").waitFor();
  await accessible(page, "order");
  await page.getByLabel("Tracking number").fill("JP1234567890");
  await button("Mark as shipped").click();
  await status("Marked as shipped.").waitFor();
  check((await text(page.getByTestId("order-status"))) === "Shipped", "the order is not shipped");
  check((await text(page.getByTestId("tracking-number"))) === "JP1234567890", "no tracking number");
  await section("Orders");
  // Among the confirmed orders no more: the harness's other order is still waiting.
  await filterOrders("Confirmed");
  await order.waitFor({ state: "detached" });
  await page.getByRole("link", { name: /^[0-9a-f-]{36}$/ }).waitFor();
  await filterOrders("Shipped", { email: "BUYER@" });
  await order.waitFor();
  console.log("ok ship");

  // Orders found by the start of the customer's email, by the days they were placed on and by the account: the
  // buyer's two today, none of theirs tomorrow, none of another customer's.
  const day = (offset) => {
    const at = new Date();
    at.setDate(at.getDate() + offset);
    const two = (n) => String(n).padStart(2, "0");
    return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
  };
  const orderCount = async () => {
    await page.getByText("Loading orders…").waitFor({ state: "detached" });
    return page.getByRole("link", { name: /^[0-9a-f-]{36}$/ }).count();
  };
  // (From yesterday, should the run cross midnight.)
  await filterOrders("All statuses", { email: "buyer@ex", from: day(-1), to: day(0) });
  await order.waitFor();
  const rows = page.getByRole("row").filter({ hasText: "buyer@example.com" });
  await rows.nth(1).waitFor();
  check((await orderCount()) === 2, "the buyer's two orders of today are not listed alone");
  await accessible(page, "orders by customer");
  await filterOrders("All statuses", { email: "buyer@", from: day(1) });
  await page.getByText("No orders.").waitFor();
  await filterOrders("All statuses", { email: "nobody@" });
  await page.getByText("No orders.").waitFor();
  // And by the account, which orders placed before emails were recorded can be found by.
  await filterOrders("All statuses", { account });
  await rows.nth(1).waitFor();
  check((await orderCount()) === 2, "the account's two orders are not listed alone");
  console.log("ok orders by customer");

  // The product published above reached the endpoint: its delivery is in the log, and can be sent again.
  await section("Webhooks");
  await page.getByRole("link", { name: `Deliveries ${WEBHOOK_URL}` }).click();
  await heading(1, `Deliveries to ${WEBHOOK_URL}`).waitFor();
  const delivered = page
    .getByTestId("delivery")
    .filter({ hasText: "product.v1.published" })
    .filter({ hasText: "Delivered" });
  for (let tries = 0; !(await delivered.count()); tries++) {
    check(tries < 30, "the delivery is not in the log as delivered");
    await button("Refresh").click();
    await page.waitForTimeout(500);
  }
  const row = delivered.first();
  check((await text(row.locator("td").nth(2))) === "204", "the endpoint's answer is not logged");
  await accessible(page, "webhook deliveries");
  await screenshot(page, "admin-webhook-deliveries");
  await row.getByRole("button", { name: "Send again product.v1.published" }).click();
  await row.getByRole("button", { name: "Send again product.v1.published" }).waitFor();
  console.log("ok deliveries");

  // Users: the shopper is made an admin and back; an account whose email is not confirmed cannot be; an admin
  // cannot remove their own role.
  await section("Users");
  const filterUsers = async (email) => {
    await page.getByLabel("Email contains").fill(email);
    await button("Filter").click();
  };
  await filterUsers(SHOPPER_EMAIL);
  await button(`Make admin ${SHOPPER_EMAIL}`).click();
  await status(`${SHOPPER_EMAIL} is now an administrator.`).waitFor();
  await button(`Remove admin ${SHOPPER_EMAIL}`).click();
  await status(`${SHOPPER_EMAIL} is no longer an administrator.`).waitFor();
  await button(`Make admin ${SHOPPER_EMAIL}`).waitFor();
  await filterUsers(NEWCOMER_EMAIL);
  await page
    .getByRole("rowheader")
    .filter({ hasText: `${NEWCOMER_EMAIL} (email not confirmed)` })
    .waitFor();
  await button(`Make admin ${NEWCOMER_EMAIL}`).click();
  await alert("Only an account whose email address is confirmed can be made an administrator.").waitFor();
  await filterUsers(ADMIN_EMAIL);
  await button(`Remove admin ${ADMIN_EMAIL}`).click();
  await alert("You cannot remove your own admin role").waitFor();
  await button(`Remove admin ${ADMIN_EMAIL}`).waitFor();
  await accessible(page, "users");
  console.log("ok roles");

  // The shopper finds the new product in the catalog, and is refused the back office.
  await signOut(page);
  await signIn(page, SHOPPER_EMAIL, PASSWORD);
  check((await page.getByRole("link", { name: "Back office" }).count()) === 0, "a shopper sees the back office link");
  await page.getByLabel("Search products").fill("Kyusu");
  await page.getByRole("button", { name: "Search" }).click();
  await loaded(
    page
      .getByRole("listitem")
      .filter({ has: heading(2, PRODUCT) })
      .locator("img"),
  );
  await heading(2, PRODUCT).getByRole("link", { name: PRODUCT }).click();
  await heading(1, PRODUCT).waitFor();
  await loaded(page.getByRole("img", { name: ALT }));
  console.log("ok shopper finds it");

  await openPath(page, "/admin");
  await heading(1, "Not allowed").waitFor();
  console.log("ok not an admin");
});
