import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { UserManager } from "oidc-client-ts";

import type { PlatformConfig } from "./config";
import { CartService } from "./gen/order/v1/cart_service_pb";
import { OrderService } from "./gen/order/v1/order_service_pb";
import { InventoryService } from "./gen/product/v1/inventory_service_pb";
import { ProductService } from "./gen/product/v1/product_service_pb";
import { UserService } from "./gen/user/v1/user_service_pb";

/** The BFF's services over the Connect protocol, with the signed-in user's access token on every call. */
export function clients(config: PlatformConfig, users: UserManager | null) {
  const bearer: Interceptor = (next) => async (request) => {
    const user = await users?.getUser();
    if (user && !user.expired) request.header.set("Authorization", `Bearer ${user.access_token}`);
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl: config.bffUrl, interceptors: [bearer] });
  return {
    products: createClient(ProductService, transport),
    inventory: createClient(InventoryService, transport),
    carts: createClient(CartService, transport),
    orders: createClient(OrderService, transport),
    users: createClient(UserService, transport),
  };
}

export type Clients = ReturnType<typeof clients>;
