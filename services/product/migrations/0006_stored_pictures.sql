-- Uploaded pictures (UploadProductImage): an image is either a link (url) or a picture the platform stores as
-- WebP copies at a few widths, under products/<id>/<width>.webp in the picture store (MEDIA_STORE). The row
-- keeps the widths and the full size the copies' heights are computed from; the URLs are made on reading,
-- from MEDIA_PUBLIC_URL, so moving the pictures behind a CDN changes no row.
ALTER TABLE product_service.product_images
    ALTER COLUMN url DROP NOT NULL,
    ADD COLUMN stored_widths integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN width integer CHECK (width > 0),
    ADD COLUMN height integer CHECK (height > 0),
    ADD CONSTRAINT product_images_link_or_stored CHECK (
        CASE WHEN url IS NULL
            THEN cardinality(stored_widths) BETWEEN 1 AND 8 AND width IS NOT NULL AND height IS NOT NULL
            ELSE cardinality(stored_widths) = 0 AND width IS NULL AND height IS NULL
        END
    );
