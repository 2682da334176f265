CREATE TYPE "public"."member_admin_state" AS ENUM('enabled', 'disabled', 'draining');--> statement-breakpoint
CREATE TYPE "public"."node_state" AS ENUM('active', 'cordoned', 'draining', 'down');--> statement-breakpoint
CREATE TYPE "public"."tenant_role" AS ENUM('viewer', 'operator', 'admin');--> statement-breakpoint
CREATE TABLE "account" (
	"id" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"provider_id" text NOT NULL,
	"user_id" text NOT NULL,
	"access_token" text,
	"refresh_token" text,
	"id_token" text,
	"access_token_expires_at" timestamp with time zone,
	"refresh_token_expires_at" timestamp with time zone,
	"scope" text,
	"password" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_token" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_user_id" text,
	"actor_label" text NOT NULL,
	"actor_via" text NOT NULL,
	"tenant_id" uuid,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"revision" bigint
);
--> statement-breakpoint
CREATE TABLE "az" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"region_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "backend_pool" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"lb_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"min_healthy" jsonb DEFAULT '{"kind":"count","value":1}'::jsonb NOT NULL,
	"all_down_policy" text DEFAULT 'withdraw' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificate" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"expiring_days" integer DEFAULT 30 NOT NULL,
	"current_version" integer NOT NULL,
	"recorded_state" text DEFAULT 'valid' NOT NULL,
	"revision" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificate_version" (
	"id" uuid PRIMARY KEY NOT NULL,
	"certificate_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"chain_pem" text NOT NULL,
	"chain" jsonb NOT NULL,
	"chain_complete" boolean NOT NULL,
	"missing" text,
	"warnings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"key_ciphertext" text,
	"wrapped_data_key" text,
	"master_key_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "health_monitor" (
	"pool_id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"interval_ms" integer NOT NULL,
	"timeout_ms" integer NOT NULL,
	"rise" integer NOT NULL,
	"fall" integer NOT NULL,
	"port" integer,
	"http" jsonb,
	"tls" jsonb
);
--> statement-breakpoint
CREATE TABLE "idempotency_key" (
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"verb" text NOT NULL,
	"request_hash" text NOT NULL,
	"result_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_key_tenant_id_verb_key_pk" PRIMARY KEY("tenant_id","verb","key")
);
--> statement-breakpoint
CREATE TABLE "ip_pool" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"region_id" uuid NOT NULL,
	"name" text NOT NULL,
	"cidr" text NOT NULL,
	"family" integer NOT NULL,
	"tenant_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ip_pool_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "job_state" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lb_node" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"az_id" uuid NOT NULL,
	"address" text NOT NULL,
	"address6" text,
	"asn" bigint NOT NULL,
	"peers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"capacity" integer DEFAULT 1000 NOT NULL,
	"state" "node_state" DEFAULT 'active' NOT NULL,
	"state_reason" text DEFAULT '' NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"agent_version" text,
	"credential_hash" text,
	"join_token_hash" text,
	"join_token_expires_at" timestamp with time zone,
	"last_applied_revision" bigint,
	"bgp_peers_up" integer,
	"bgp_peers_total" integer,
	"advertised_count" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lb_node_name_unique" UNIQUE("name"),
	CONSTRAINT "lb_node_address_unique" UNIQUE("address")
);
--> statement-breakpoint
CREATE TABLE "listener" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"lb_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"protocol" text NOT NULL,
	"port_start" integer NOT NULL,
	"port_end" integer NOT NULL,
	"allowed_cidrs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"affinity" text DEFAULT '5-tuple' NOT NULL,
	"pool_id" uuid NOT NULL,
	"admin_enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "listener_certificate" (
	"listener_id" uuid NOT NULL,
	"certificate_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"sni_hosts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "listener_certificate_listener_id_certificate_id_pk" PRIMARY KEY("listener_id","certificate_id")
);
--> statement-breakpoint
CREATE TABLE "load_balancer" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"address" text NOT NULL,
	"family" integer NOT NULL,
	"ip_pool_id" uuid NOT NULL,
	"replicas" integer DEFAULT 2 NOT NULL,
	"admin_enabled" boolean DEFAULT true NOT NULL,
	"deletion_protection" boolean DEFAULT false NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"revision" bigint NOT NULL,
	"created_revision" bigint NOT NULL,
	"deleting_since" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "member" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"pool_id" uuid NOT NULL,
	"lb_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"address" text NOT NULL,
	"port" integer NOT NULL,
	"weight" integer DEFAULT 100 NOT NULL,
	"admin_state" "member_admin_state" DEFAULT 'enabled' NOT NULL,
	"monitor_address" text,
	"monitor_port" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "member_health" (
	"lb_id" uuid NOT NULL,
	"node_id" uuid NOT NULL,
	"pool_id" uuid NOT NULL,
	"address" text NOT NULL,
	"port" integer NOT NULL,
	"state" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"since" timestamp with time zone NOT NULL,
	"reported_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "member_health_lb_id_node_id_pool_id_address_port_pk" PRIMARY KEY("lb_id","node_id","pool_id","address","port")
);
--> statement-breakpoint
CREATE TABLE "placement" (
	"lb_id" uuid NOT NULL,
	"node_id" uuid NOT NULL,
	"applied_revision" bigint,
	"error" text,
	"advertised" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "placement_lb_id_node_id_pk" PRIMARY KEY("lb_id","node_id")
);
--> statement-breakpoint
CREATE TABLE "quota" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"max_vips" integer NOT NULL,
	"max_listeners" integer NOT NULL,
	"max_members" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limit" (
	"id" text PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"count" bigint NOT NULL,
	"last_request" bigint NOT NULL,
	CONSTRAINT "rate_limit_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "region" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "region_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "revision" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"op" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session" (
	"id" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"token" text NOT NULL,
	"ip_address" text,
	"user_agent" text,
	"user_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "session_token_unique" UNIQUE("token")
);
--> statement-breakpoint
CREATE TABLE "tenant" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "tenant_member" (
	"tenant_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"role" "tenant_role" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_member_tenant_id_user_id_pk" PRIMARY KEY("tenant_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "user" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"email_verified" boolean DEFAULT false NOT NULL,
	"image" text,
	"platform_admin" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "verification" (
	"id" text PRIMARY KEY NOT NULL,
	"identifier" text NOT NULL,
	"value" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "account" ADD CONSTRAINT "account_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_token" ADD CONSTRAINT "api_token_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "az" ADD CONSTRAINT "az_region_id_region_id_fk" FOREIGN KEY ("region_id") REFERENCES "public"."region"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backend_pool" ADD CONSTRAINT "backend_pool_lb_id_load_balancer_id_fk" FOREIGN KEY ("lb_id") REFERENCES "public"."load_balancer"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certificate" ADD CONSTRAINT "certificate_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certificate_version" ADD CONSTRAINT "certificate_version_certificate_id_certificate_id_fk" FOREIGN KEY ("certificate_id") REFERENCES "public"."certificate"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "health_monitor" ADD CONSTRAINT "health_monitor_pool_id_backend_pool_id_fk" FOREIGN KEY ("pool_id") REFERENCES "public"."backend_pool"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ip_pool" ADD CONSTRAINT "ip_pool_region_id_region_id_fk" FOREIGN KEY ("region_id") REFERENCES "public"."region"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lb_node" ADD CONSTRAINT "lb_node_az_id_az_id_fk" FOREIGN KEY ("az_id") REFERENCES "public"."az"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "listener" ADD CONSTRAINT "listener_lb_id_load_balancer_id_fk" FOREIGN KEY ("lb_id") REFERENCES "public"."load_balancer"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "listener" ADD CONSTRAINT "listener_pool_id_backend_pool_id_fk" FOREIGN KEY ("pool_id") REFERENCES "public"."backend_pool"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "listener_certificate" ADD CONSTRAINT "listener_certificate_listener_id_listener_id_fk" FOREIGN KEY ("listener_id") REFERENCES "public"."listener"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "listener_certificate" ADD CONSTRAINT "listener_certificate_certificate_id_certificate_id_fk" FOREIGN KEY ("certificate_id") REFERENCES "public"."certificate"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "load_balancer" ADD CONSTRAINT "load_balancer_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "load_balancer" ADD CONSTRAINT "load_balancer_ip_pool_id_ip_pool_id_fk" FOREIGN KEY ("ip_pool_id") REFERENCES "public"."ip_pool"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "member" ADD CONSTRAINT "member_pool_id_backend_pool_id_fk" FOREIGN KEY ("pool_id") REFERENCES "public"."backend_pool"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "member_health" ADD CONSTRAINT "member_health_lb_id_load_balancer_id_fk" FOREIGN KEY ("lb_id") REFERENCES "public"."load_balancer"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "member_health" ADD CONSTRAINT "member_health_node_id_lb_node_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."lb_node"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "placement" ADD CONSTRAINT "placement_lb_id_load_balancer_id_fk" FOREIGN KEY ("lb_id") REFERENCES "public"."load_balancer"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "placement" ADD CONSTRAINT "placement_node_id_lb_node_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."lb_node"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quota" ADD CONSTRAINT "quota_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session" ADD CONSTRAINT "session_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_member" ADD CONSTRAINT "tenant_member_tenant_id_tenant_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenant"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_member" ADD CONSTRAINT "tenant_member_user_id_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."user"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "account_user_idx" ON "account" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "api_token_hash_idx" ON "api_token" USING btree ("secret_hash");--> statement-breakpoint
CREATE INDEX "api_token_user_idx" ON "api_token" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "audit_tenant_idx" ON "audit_log" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "audit_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "az_region_name_idx" ON "az" USING btree ("region_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "backend_pool_name_idx" ON "backend_pool" USING btree ("lb_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "certificate_tenant_name_idx" ON "certificate" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "certificate_version_idx" ON "certificate_version" USING btree ("certificate_id","version");--> statement-breakpoint
CREATE INDEX "certificate_version_tenant_idx" ON "certificate_version" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "certificate_version_master_key_idx" ON "certificate_version" USING btree ("master_key_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ip_pool_cidr_idx" ON "ip_pool" USING btree ("cidr");--> statement-breakpoint
CREATE UNIQUE INDEX "listener_name_idx" ON "listener" USING btree ("lb_id","name");--> statement-breakpoint
CREATE INDEX "listener_pool_idx" ON "listener" USING btree ("pool_id");--> statement-breakpoint
CREATE INDEX "listener_tenant_idx" ON "listener" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "listener_certificate_cert_idx" ON "listener_certificate" USING btree ("certificate_id");--> statement-breakpoint
CREATE UNIQUE INDEX "lb_address_idx" ON "load_balancer" USING btree ("address");--> statement-breakpoint
CREATE INDEX "lb_tenant_idx" ON "load_balancer" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "lb_tenant_name_idx" ON "load_balancer" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "lb_pool_idx" ON "load_balancer" USING btree ("ip_pool_id");--> statement-breakpoint
CREATE UNIQUE INDEX "member_key_idx" ON "member" USING btree ("pool_id","address","port");--> statement-breakpoint
CREATE INDEX "member_tenant_idx" ON "member" USING btree ("tenant_id","lb_id");--> statement-breakpoint
CREATE INDEX "placement_node_idx" ON "placement" USING btree ("node_id");--> statement-breakpoint
CREATE INDEX "revision_tenant_idx" ON "revision" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "session_user_idx" ON "session" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "tenant_member_user_idx" ON "tenant_member" USING btree ("user_id");