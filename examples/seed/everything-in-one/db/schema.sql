-- The orders table of the seed's database. The single-stage image carries a
-- MySQL client to load it by hand (mysql -h DB -u USER -p orders < /app/db/schema.sql),
-- as the seed's original image did; the service itself keeps its orders in memory.
CREATE TABLE IF NOT EXISTS orders (
  id INT PRIMARY KEY,
  customer VARCHAR(100) NOT NULL,
  total DECIMAL(10, 2) NOT NULL
);
