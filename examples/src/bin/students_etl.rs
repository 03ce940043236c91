//! The students ETL: extract student records from `students`, transform
//! them (average score, letter grade, pass or fail), load the result into
//! `students-processed`, keyed by student id.
//!
//! ```text
//! students_etl --bootstrap HOST:PORT --generate 20        # write sample students, then exit
//! students_etl --bootstrap HOST:PORT [--expect 20] [--input students] [--output students-processed]
//! ```

use purekafka::serde::{Json, TypedConsumer, TypedProducer, TypedProducerRecord, Utf8String};
use purekafka::{Consumer, ConsumerConfig, Producer, ProducerConfig};
use purekafka_examples::Args;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
struct Student {
    id: u32,
    name: String,
    scores: Vec<f64>,
}

#[derive(Serialize)]
struct Graded {
    id: u32,
    name: String,
    average: f64,
    grade: char,
    passed: bool,
}

fn transform(s: Student) -> Graded {
    let average = if s.scores.is_empty() {
        0.0
    } else {
        s.scores.iter().sum::<f64>() / s.scores.len() as f64
    };
    let grade = match average {
        a if a >= 90.0 => 'A',
        a if a >= 80.0 => 'B',
        a if a >= 70.0 => 'C',
        a if a >= 60.0 => 'D',
        _ => 'F',
    };
    Graded {
        id: s.id,
        name: s.name,
        average: (average * 10.0).round() / 10.0,
        grade,
        passed: average >= 60.0,
    }
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let input = args.or("input", "students");
    let output = args.or("output", "students-processed");
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "students-etl"),
        ("acks", "all"),
    ])?;
    if let Some(n) = args.get("generate") {
        let n: u32 = n.parse().unwrap_or(20);
        let p: TypedProducer<str, Student, Utf8String, Json> =
            TypedProducer::with_serializers(Producer::new(config).await?, Utf8String, Json);
        for id in 0..n {
            let s = Student {
                id,
                name: format!("student-{id}"),
                // Averages from 45 to 99: every grade appears.
                scores: vec![f64::from(45 + id * 3 % 55), f64::from(50 + id * 7 % 50)],
            };
            p.send_record(
                TypedProducerRecord::to(&input)
                    .key(id.to_string().as_str())
                    .value(&s),
            )
            .await?;
        }
        p.close(Duration::from_secs(10)).await?;
        println!("generated {n} students to {input}");
        return Ok(());
    }
    let expect: u64 = args.num("expect", u64::MAX);
    let consumer: TypedConsumer<String, Student, Utf8String, Json> =
        TypedConsumer::with_deserializers(
            Consumer::new(ConsumerConfig::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("group.id", "students-etl"),
                ("auto.offset.reset", "earliest"),
                ("enable.auto.commit", "false"),
            ])?)
            .await?,
            Utf8String,
            Json,
        );
    consumer.consumer().subscribe(&[input.as_str()])?;
    let producer: TypedProducer<str, Graded, Utf8String, Json> =
        TypedProducer::with_serializers(Producer::new(config).await?, Utf8String, Json);
    let (mut n, mut passed, mut bad, mut sum) = (0u64, 0u64, 0u64, 0.0);
    let mut last = Instant::now();
    while n + bad < expect && last.elapsed() < Duration::from_secs(10) {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        last = Instant::now();
        for r in records {
            let Ok(Some(student)) = r.value else {
                bad += 1;
                continue;
            };
            let g = transform(student);
            n += 1;
            passed += u64::from(g.passed);
            sum += g.average;
            producer
                .send_record(
                    TypedProducerRecord::to(&output)
                        .key(g.id.to_string().as_str())
                        .value(&g),
                )
                .await?;
        }
        consumer.consumer().commit().await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    consumer.close().await?;
    println!(
        "transformed {n} students into {output}: average {:.1}, {passed} passed, {bad} unreadable",
        if n > 0 { sum / n as f64 } else { 0.0 }
    );
    Ok(())
}
